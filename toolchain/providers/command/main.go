// pulumi-resource-command: a self-built resource provider plugin that implements the subset of the
// pulumi-command 1.2.1 wire contract used by openstack-lab (command:remote:Command,
// command:remote:CopyToRemote, command:remote:CopyFile, command:local:Command and the
// command:local:run invoke). It exists because neither the upstream provider nor
// pulumi-go-provider can be fetched in this environment; see README.md.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is the pulumi-command version whose wire contract this plugin implements. It must equal
// the "version" in pulumi-plugin.json of the pinned Python SDK (pulumi-command==1.2.1), because the
// engine asks for exactly that plugin version. build-command.sh may override it with -X.
var version = "1.2.1"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version" || os.Args[1] == "version") {
		fmt.Println(version)
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
