package main

// schema returns a minimal package schema. The engine does not need the full pulumi-command schema
// for deployments; this only names the package and its resources.
func schema() map[string]any {
	str := map[string]any{"type": "string"}
	obj := func(props map[string]any) map[string]any {
		return map[string]any{"type": "object", "properties": props, "inputProperties": props}
	}
	conn := map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true}
	cmdProps := map[string]any{
		"create": str, "update": str, "delete": str, "stdin": str,
		"environment":            map[string]any{"type": "object", "additionalProperties": str},
		"triggers":               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}},
		"addPreviousOutputInEnv": map[string]any{"type": "boolean"},
		"logging":                str,
	}
	remote := map[string]any{"connection": conn}
	for k, v := range cmdProps {
		remote[k] = v
	}
	return map[string]any{
		"name":    "command",
		"version": version,
		"types": map[string]any{
			"command:remote:Connection": map[string]any{"type": "object", "properties": map[string]any{
				"host": str, "port": map[string]any{"type": "number"}, "user": str,
				"password":           map[string]any{"type": "string", "secret": true},
				"privateKey":         map[string]any{"type": "string", "secret": true},
				"privateKeyPassword": map[string]any{"type": "string", "secret": true},
				"agentSocketPath":    str, "hostKey": str,
				"dialErrorLimit": map[string]any{"type": "integer"},
				"perDialTimeout": map[string]any{"type": "integer"},
			}},
		},
		"resources": map[string]any{
			tRemoteCommand: obj(remote),
			tLocalCommand:  obj(cmdProps),
			tCopyToRemote: obj(map[string]any{"connection": conn, "remotePath": str,
				"source": map[string]any{"$ref": "pulumi.json#/Asset"}}),
		},
	}
}
