// Thin Pulumi bridge for github.com/terraform-provider-openstack/terraform-provider-openstack/v3.
//
// It reproduces the package "openstack" as published by pulumi-openstack
// v5.5.3 (tokens, module names and property names expected by the pinned
// Python SDK pulumi-openstack==5.5.3). Built by toolchain/build-plugin.sh with the shared main
// of ../bridge/.
package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

const (
	pkgName = "openstack"
	// Must equal pulumi-plugin.json "version" of the pulumi-openstack Python SDK.
	pkgVersion = "5.5.3"
)

func envDefault(vars ...string) *tfbridge.SchemaInfo {
	return &tfbridge.SchemaInfo{Default: &tfbridge.DefaultInfo{EnvVars: vars}}
}

// module returns the module part ("networking") of a token "openstack:networking/network:Network".
func module(tok string) string {
	return strings.SplitN(strings.SplitN(tok, ":", 3)[1], "/", 2)[0]
}

// setTokens gives each Terraform name of a token table its token; a name with a legacy token is
// renamed instead, so that the legacy token keeps working as a deprecated alias.
func setTokens(table map[string][2]string, set func(tf, tok string), rename func(tf, tok, legacy string)) {
	for tf, toks := range table {
		if toks[1] == "" {
			set(tf, toks[0])
		} else {
			rename(tf, toks[0], toks[1])
		}
	}
}

// Provider returns the bridge description of the OpenStack provider.
func Provider() tfbridge.ProviderInfo {
	p := shimv2.NewProvider(openstack.Provider())
	info := tfbridge.ProviderInfo{
		P:           p,
		Name:        "openstack",
		Version:     pkgVersion,
		DisplayName: "OpenStack",
		Description: "A Pulumi package for creating and managing OpenStack cloud resources.",
		Keywords:    []string{"pulumi", "openstack"},
		License:     "Apache-2.0",
		Homepage:    "https://pulumi.io",
		Repository:  "https://github.com/pulumi/pulumi-openstack",
		GitHubOrg:   "terraform-provider-openstack",
		Publisher:   "Pulumi",
		// Environment defaults exactly as declared by the pulumi-openstack SDK
		// (config/vars.py); the Terraform provider has its own OS_* defaults too.
		Config: map[string]*tfbridge.SchemaInfo{
			"allow_reauth":  envDefault("OS_ALLOW_REAUTH"),
			"cloud":         envDefault("OS_CLOUD"),
			"delayed_auth":  envDefault("OS_DELAYED_AUTH"),
			"endpoint_type": envDefault("OS_ENDPOINT_TYPE"),
			"insecure":      envDefault("OS_INSECURE"),
			"region":        envDefault("OS_REGION_NAME"),
			"swauth":        envDefault("OS_SWAUTH"),
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	setTokens(resourceTokens,
		func(tf, tok string) { info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(tok)} },
		func(tf, tok, legacy string) {
			info.RenameResourceWithAlias(tf, tokens.Type(legacy), tokens.Type(tok), module(legacy), module(tok), nil)
		})
	setTokens(dataSourceTokens,
		func(tf, tok string) { info.DataSources[tf] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(tok)} },
		func(tf, tok, legacy string) {
			info.RenameDataSource(tf, tokens.ModuleMember(legacy), tokens.ModuleMember(tok), module(legacy), module(tok), nil)
		})
	// Field renames of pulumi-openstack (found by diffing our schema with the SDK).
	info.Resources["openstack_orchestration_stack_v1"].Fields = map[string]*tfbridge.SchemaInfo{
		"outputs": {Name: "StackOutputs"},
	}
	// Anything the pinned SDK does not know (should be nothing for v3.4.0)
	// still gets a deterministic token so the plugin starts.
	for tf := range p.ResourcesMap().Range {
		if _, ok := info.Resources[tf]; !ok {
			info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource(pkgName, "index", fallbackName(tf))}
		}
	}
	info.SetAutonaming(255, "-")
	return info
}

func fallbackName(tf string) string {
	parts := strings.Split(strings.TrimPrefix(tf, pkgName+"_"), "_")
	var b strings.Builder
	for _, s := range parts {
		if s != "" {
			b.WriteString(strings.ToUpper(s[:1]) + s[1:])
		}
	}
	return fmt.Sprint(b.String())
}
