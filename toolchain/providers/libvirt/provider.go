// Thin Pulumi bridge for github.com/dmacvicar/terraform-provider-libvirt.
//
// It reproduces the package "libvirt" as published by pulumi-libvirt v0.5.4
// (tokens, module names and property names expected by the pinned Python SDK
// pulumi-libvirt==0.5.4). Built by toolchain/build-plugin.sh with the shared main of ../bridge/.
package main

import (
	"github.com/dmacvicar/terraform-provider-libvirt/libvirt"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
)

const (
	pkgName = "libvirt"
	// Must equal pulumi-plugin.json "version" of the pulumi-libvirt Python SDK.
	pkgVersion = "0.5.4"
)

func res(name string) tfbridge.ResourceInfo {
	return tfbridge.ResourceInfo{Tok: tfbridge.MakeResource(pkgName, "index", name)}
}

func fn(name string) tfbridge.DataSourceInfo {
	return tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource(pkgName, "index", name)}
}

// Provider returns the bridge description of the libvirt provider.
func Provider() tfbridge.ProviderInfo {
	p := shimv2.NewProvider(withCloudInitWithoutReadBack(libvirt.Provider()))
	resources := map[string]string{
		"libvirt_cloudinit_disk": "CloudInitDisk",
		"libvirt_combustion":     "Combustion",
		"libvirt_domain":         "Domain",
		"libvirt_ignition":       "Ignition",
		"libvirt_network":        "Network",
		"libvirt_pool":           "Pool",
		"libvirt_volume":         "Volume",
	}
	dataSources := map[string]string{
		"libvirt_network_dns_host_template":        "getNetworkDnsHostTemplate",
		"libvirt_network_dns_srv_template":         "getNetworkDnsSrvTemplate",
		"libvirt_network_dnsmasq_options_template": "getNetworkDnsmasqOptionsTemplate",
		"libvirt_node_device_info":                 "getNodeDeviceInfo",
		"libvirt_node_devices":                     "getNodeDevices",
		"libvirt_node_info":                        "getNodeInfo",
	}
	info := tfbridge.ProviderInfo{
		P:           p,
		Name:        "libvirt",
		Version:     pkgVersion,
		DisplayName: "libvirt",
		Description: "A Pulumi package for creating and managing libvirt resources.",
		Keywords:    []string{"pulumi", "libvirt"},
		License:     "Apache-2.0",
		Homepage:    "https://pulumi.io",
		Repository:  "https://github.com/pulumi/pulumi-libvirt",
		GitHubOrg:   "dmacvicar",
		Publisher:   "Pulumi",
		Config: map[string]*tfbridge.SchemaInfo{
			"uri": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"LIBVIRT_DEFAULT_URI"}}},
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	for tf, name := range resources {
		r := res(name)
		info.Resources[tf] = &r
	}
	for tf, name := range dataSources {
		d := fn(name)
		info.DataSources[tf] = &d
	}
	info.SetAutonaming(255, "-")
	return info
}
