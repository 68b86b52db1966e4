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
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = strip(e)
		}
		return resource.NewObjectProperty(out)
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

// opt reads the value at key: def when absent or null, unknown=true when not known yet, an error
// naming what was expected when it has another type.
func opt[T any](m resource.PropertyMap, key string, def T, what string,
	is func(resource.PropertyValue) bool, get func(resource.PropertyValue) T,
) (value T, unknown bool, err error) {
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
	case is(v):
		return get(v), false, nil
	}
	return def, false, fmt.Errorf("%s must be %s, not %s", key, what, v.TypeString())
}

// optString returns the string at key (nil when absent or null).
func optString(m resource.PropertyMap, key string) (*string, bool, error) {
	return opt[*string](m, key, nil, "a string", resource.PropertyValue.IsString,
		func(v resource.PropertyValue) *string { s := v.StringValue(); return &s })
}

func optNumber(m resource.PropertyMap, key string, def float64) (float64, bool, error) {
	return opt(m, key, def, "a number", resource.PropertyValue.IsNumber, resource.PropertyValue.NumberValue)
}

func optBool(m resource.PropertyMap, key string, def bool) (bool, bool, error) {
	return opt(m, key, def, "a boolean", resource.PropertyValue.IsBool, resource.PropertyValue.BoolValue)
}

// optStringMap reads a map of strings (environment); null entries are skipped.
func optStringMap(m resource.PropertyMap, key string) (out map[string]string, unknown bool, err error) {
	obj, unknown, err := opt[resource.PropertyMap](m, key, nil, "a map of strings",
		resource.PropertyValue.IsObject, resource.PropertyValue.ObjectValue)
	if obj == nil || unknown || err != nil {
		return nil, unknown, err
	}
	out = map[string]string{}
	for k, e := range obj {
		switch {
		case e.IsNull():
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

// secretStrings collects the string leaves of secret values (for redaction of logs and errors).
// Leaves shorter than 4 characters are ignored, as are the non-sensitive fields of a connection
// (the SDK always marks the whole connection secret): of it only the private key counts.
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
		if k != "connection" {
			walk(v, false)
			continue
		}
		if conn := strip(v); conn.IsObject() {
			if key, _, _ := optString(conn.ObjectValue(), "privateKey"); key != nil && len(*key) >= 4 {
				seen[*key] = true
				// Also each line of the key, in case it is echoed partially.
				for _, line := range strings.Split(*key, "\n") {
					if line = strings.TrimSpace(line); len(line) >= 16 {
						seen[line] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	// Longest first so that a secret containing another one is replaced whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// redactor replaces secret strings with "[secret]".
type redactor []string

func (r redactor) apply(s string) string {
	for _, sec := range r {
		s = strings.ReplaceAll(s, sec, "[secret]")
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
