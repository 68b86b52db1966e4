//go:build !embedschema

package main

var pulumiSchema []byte
