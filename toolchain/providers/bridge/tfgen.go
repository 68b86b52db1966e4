//go:build tfgen

package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
)

func runTfgen(pkg, version string, info tfbridge.ProviderInfo) {
	tfgen.Main(pkg, version, info)
}
