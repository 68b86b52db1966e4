// The main package shared by the Terraform-bridged plugins (libvirt, openstack):
// toolchain/build-plugin.sh copies this directory next to providers/<name>/*.go, which define
// pkgName, pkgVersion and Provider(). It does not build on its own.
package main

import (
	_ "embed"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// pulumiSchema is the Pulumi schema that build-plugin.sh generates with `tfgen schema` (from a first
// build with -tags tfgen and an empty schema.json) and embeds in the second build; never committed.
//
//go:embed schema.json
var pulumiSchema []byte

func main() {
	// "tfgen" mode only exists in binaries built with -tags tfgen.
	if len(os.Args) > 1 && os.Args[1] == "tfgen" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
		runTfgen(pkgName, pkgVersion, Provider())
		return
	}
	tfbridge.Main(pkgName, pkgVersion, Provider(), pulumiSchema)
}
