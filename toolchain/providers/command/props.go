package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Helpers to read typed values out of resource.PropertyMaps that may contain secrets and unknowns.

// strip removes secret wrappers (recursively). Unknowns stay unknown; output values become their
// element (or an unknown when not known).
func strip(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return strip(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return strip(o.Element)
	case v.IsObject():
		return resource.NewObjectProperty(stripMap(v.ObjectValue()))
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = strip(e)
		}
		return resource.NewArrayProperty(out)
	}
	return v
}

func stripMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = strip(v)
	}
	return out
}

// isUnknown reports whether v (after removing secret wrappers) is an unknown value.
func isUnknown(v resource.PropertyValue) bool {
	v = strip(v)
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

// withSecretness rewraps v as a secret when secret is true (and v is not already one).
func withSecretness(v resource.PropertyValue, secret bool) resource.PropertyValue {
	if secret && !v.IsSecret() {
		return resource.MakeSecret(v)
	}
	return v
}

// optString returns the string at key (nil when absent or null). An unknown value yields unknown=true.
func optString(m resource.PropertyMap, key string) (s *string, unknown bool, err error) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return nil, false, nil
	}
	v = strip(v)
	switch {
	case v.IsNull():
		return nil, false, nil
	case v.IsComputed():
		return nil, true, nil
	case v.IsString():
		str := v.StringValue()
		return &str, false, nil
	}
	return nil, false, fmt.Errorf("%s must be a string, not %s", key, v.TypeString())
}

// optNumber returns the number at key; def when absent.
func optNumber(m resource.PropertyMap, key string, def float64) (n float64, unknown bool, err error) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return def, false, nil
	}
	v = strip(v)
	switch {
	case v.IsNull():
		return def, false, nil
	case v.IsComputed():
		return def, true, nil
	case v.IsNumber():
		return v.NumberValue(), false, nil
	}
	return def, false, fmt.Errorf("%s must be a number, not %s", key, v.TypeString())
}

func optBool(m resource.PropertyMap, key string, def bool) (b bool, unknown bool, err error) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return def, false, nil
	}
	v = strip(v)
	switch {
	case v.IsNull():
		return def, false, nil
	case v.IsComputed():
		return def, true, nil
	case v.IsBool():
		return v.BoolValue(), false, nil
	}
	return def, false, fmt.Errorf("%s must be a boolean, not %s", key, v.TypeString())
}

// optStringMap reads a map of strings (e.g. environment).
func optStringMap(m resource.PropertyMap, key string) (out map[string]string, unknown bool, err error) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return nil, false, nil
	}
	v = strip(v)
	switch {
	case v.IsNull():
		return nil, false, nil
	case v.IsComputed():
		return nil, true, nil
	case !v.IsObject():
		return nil, false, fmt.Errorf("%s must be a map of strings, not %s", key, v.TypeString())
	}
	out = map[string]string{}
	for k, e := range v.ObjectValue() {
		switch {
		case e.IsNull():
			continue
		case e.IsComputed():
			unknown = true
		case e.IsString():
			out[string(k)] = e.StringValue()
		default:
			return nil, false, fmt.Errorf("%s.%s must be a string, not %s", key, k, e.TypeString())
		}
	}
	return out, unknown, nil
}

// optStringList reads a list of strings (e.g. interpreter).
func optStringList(m resource.PropertyMap, key string) (out []string, unknown bool, err error) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return nil, false, nil
	}
	v = strip(v)
	switch {
	case v.IsNull():
		return nil, false, nil
	case v.IsComputed():
		return nil, true, nil
	case !v.IsArray():
		return nil, false, fmt.Errorf("%s must be a list of strings, not %s", key, v.TypeString())
	}
	for i, e := range v.ArrayValue() {
		switch {
		case e.IsComputed():
			unknown = true
		case e.IsString():
			out = append(out, e.StringValue())
		default:
			return nil, false, fmt.Errorf("%s[%d] must be a string, not %s", key, i, e.TypeString())
		}
	}
	return out, unknown, nil
}

// secretStrings collects the string leaves of secret values (for redaction of logs and errors).
// Leaves shorter than 4 characters are ignored, as are the non-sensitive fields of a connection
// (the SDK always marks the whole connection secret).
func secretStrings(m resource.PropertyMap) []string {
	seen := map[string]bool{}
	var walk func(v resource.PropertyValue, inSecret bool)
	walk = func(v resource.PropertyValue, inSecret bool) {
		switch {
		case v.IsSecret():
			walk(v.SecretValue().Element, true)
		case v.IsOutput():
			o := v.OutputValue()
			if o.Known {
				walk(o.Element, inSecret || o.Secret)
			}
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				walk(e, inSecret)
			}
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(e, inSecret)
			}
		case v.IsString():
			if inSecret && len(v.StringValue()) >= 4 {
				seen[v.StringValue()] = true
			}
		}
	}
	for k, v := range m {
		if k == "connection" {
			conn := strip(v)
			if conn.IsObject() {
				collectConnectionSecrets(conn.ObjectValue(), seen)
			}
			continue
		}
		walk(v, false)
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	// Longest first so that a secret containing another one is replaced whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func collectConnectionSecrets(conn resource.PropertyMap, seen map[string]bool) {
	for _, key := range []string{"password", "privateKey", "privateKeyPassword"} {
		if s, _, _ := optString(conn, key); s != nil && len(*s) >= 4 {
			seen[*s] = true
			// Also redact each line of a private key, in case it is echoed partially.
			for _, line := range strings.Split(*s, "\n") {
				if len(strings.TrimSpace(line)) >= 16 {
					seen[strings.TrimSpace(line)] = true
				}
			}
		}
	}
	if p, ok := conn["proxy"]; ok {
		p = strip(p)
		if p.IsObject() {
			collectConnectionSecrets(p.ObjectValue(), seen)
		}
	}
}

// redactor replaces secret strings with "[secret]".
type redactor []string

func (r redactor) apply(s string) string {
	for _, sec := range r {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[secret]")
		}
	}
	return s
}

// anySecret reports whether any of the given top-level inputs contains a secret.
func anySecret(m resource.PropertyMap, keys ...string) bool {
	for _, k := range keys {
		if v, ok := m[resource.PropertyKey(k)]; ok && v.ContainsSecrets() {
			return true
		}
	}
	return false
}
