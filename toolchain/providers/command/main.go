// pulumi-resource-command: a self-built resource provider plugin implementing the part of the
// pulumi-command 1.2.1 wire contract that openstack-lab uses: command:remote:Command. Neither the
// upstream provider nor pulumi-go-provider can be fetched here; see README.md.
//
// Files by concern (as upstream's provider/pkg/provider/remote/): provider.go (the gRPC methods:
// check, diff, create, update, delete), connection.go (SSH dial, host-key pinning, retries),
// command.go (running one command: environment, stdin, cancellation), output.go (streamed output,
// logging modes, errors), props.go (reading inputs, secrets and redaction).
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pkgVersion is the pulumi-command version whose wire contract this plugin implements. It must equal
// the "version" in pulumi-plugin.json of the pinned Python SDK (pulumi-command==1.2.1), because the
// engine asks for exactly that plugin version (toolchain/build-plugin.sh checks it).
const pkgVersion = "1.2.1"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version" || os.Args[1] == "version") {
		fmt.Println(pkgVersion)
		return
	}
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		var logger engineLogger
		if host != nil {
			logger = host
		}
		return newServer(logger), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}
