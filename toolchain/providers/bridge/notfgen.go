//go:build !tfgen

package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

func runTfgen(string, string, tfbridge.ProviderInfo) {
	fmt.Fprintln(os.Stderr, "this binary was built without -tags tfgen")
	os.Exit(2)
}
