//go:build embedschema

package main

import _ "embed"

// schema.json is generated in the build directory by build-*.sh (tfgen
// schema); it is never committed.
//
//go:embed schema.json
var pulumiSchema []byte
