package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

func main() {
	// "tfgen" mode only exists in binaries built with -tags tfgen (used at
	// build time to produce the embedded Pulumi schema).
	if len(os.Args) > 1 && os.Args[1] == "tfgen" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
		runTfgen(pkgName, pkgVersion, Provider())
		return
	}
	tfbridge.Main(pkgName, pkgVersion, Provider(), pulumiSchema)
}
