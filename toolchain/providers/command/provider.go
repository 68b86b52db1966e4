package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Resource and function tokens implemented by this plugin.
const (
	tRemoteCommand = "command:remote:Command"
	tCopyToRemote  = "command:remote:CopyToRemote"
	tCopyFile      = "command:remote:CopyFile"
	tLocalCommand  = "command:local:Command"
	fLocalRun      = "command:local:run"
)

// inputKeys lists the input properties of each resource type (pulumi-command 1.2.1 schema).
var inputKeys = map[string]map[string]bool{
	tRemoteCommand: set("connection", "create", "update", "delete", "environment", "stdin", "triggers",
		"addPreviousOutputInEnv", "logging"),
	tLocalCommand: set("create", "update", "delete", "environment", "stdin", "triggers",
		"addPreviousOutputInEnv", "logging", "dir", "interpreter", "archivePaths", "assetPaths"),
	tCopyToRemote: set("connection", "source", "remotePath", "triggers"),
	tCopyFile:     set("connection", "localPath", "remotePath", "triggers"),
}

// outputOnlyKeys are state properties that are not inputs.
var outputOnlyKeys = set("stdout", "stderr", "archive", "assets")

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func isCommandType(t string) bool { return t == tRemoteCommand || t == tLocalCommand }

// engineLogger is implemented by provider.HostClient.
type engineLogger interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host   engineLogger
	ctx    context.Context
	cancel context.CancelFunc
}

func newServer(host engineLogger) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{host: host, ctx: ctx, cancel: cancel}
}

func (s *server) log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) {
	if s.host != nil {
		_ = s.host.Log(ctx, sev, urn, msg)
	}
}

func (s *server) logStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) {
	if s.host != nil {
		_ = s.host.LogStatus(ctx, sev, urn, msg)
	}
}

// opContext derives the context of a Create/Update/Delete: cancelled by the request, by Cancel, or
// after the custom timeout.
func (s *server) opContext(ctx context.Context, timeoutSeconds float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	if timeoutSeconds > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, time.Duration(timeoutSeconds*float64(time.Second)))
		return ctx, func() { c2(); stop(); cancel() }
	}
	return ctx, func() { stop(); cancel() }
}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, SkipNulls: true, KeepResources: true,
	})
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
}

func urnType(urn string) string { return resource.URN(urn).Type().String() }

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (s *server) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	b, err := json.Marshal(schema())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

// ---------------------------------------------------------------------------------------------
// Check

type checker struct{ failures []*pulumirpc.CheckFailure }

func (c *checker) fail(prop, reason string) {
	c.failures = append(c.failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
}

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ := urnType(req.GetUrn())
	allowed, ok := inputKeys[typ]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "unknown resource type %q (this pulumi-resource-command build implements %s)",
			typ, strings.Join([]string{tRemoteCommand, tCopyToRemote, tCopyFile, tLocalCommand}, ", "))
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	c := &checker{}
	checkInputs(typ, news, allowed, c)
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: c.failures}, nil
}

func checkInputs(typ string, news resource.PropertyMap, allowed map[string]bool, c *checker) {
	for k, v := range news {
		if strings.HasPrefix(string(k), "__") {
			continue
		}
		if !allowed[string(k)] {
			if outputOnlyKeys[string(k)] && v.IsNull() {
				continue
			}
			c.fail(string(k), fmt.Sprintf("unknown property %q for %s", k, typ))
		}
	}
	if allowed["connection"] {
		checkConnectionProp(news, c)
	}
	if isCommandType(typ) {
		for _, k := range []string{"create", "update", "delete", "stdin", "dir"} {
			if _, _, err := optString(news, k); err != nil {
				c.fail(k, err.Error())
			}
		}
		if _, _, err := optStringMap(news, "environment"); err != nil {
			c.fail("environment", err.Error())
		}
		if l, unk, err := optString(news, "logging"); err != nil {
			c.fail("logging", err.Error())
		} else if !unk && l != nil && !validLogging[*l] {
			c.fail("logging", fmt.Sprintf("logging must be one of stdout, stderr, stdoutAndStderr, none (got %q)", *l))
		}
		if _, _, err := optBool(news, "addPreviousOutputInEnv", true); err != nil {
			c.fail("addPreviousOutputInEnv", err.Error())
		} else if v, ok := news["addPreviousOutputInEnv"]; !ok || v.IsNull() {
			news["addPreviousOutputInEnv"] = resource.NewBoolProperty(true)
		}
		if typ == tLocalCommand {
			if _, _, err := optStringList(news, "interpreter"); err != nil {
				c.fail("interpreter", err.Error())
			}
			for _, k := range []string{"archivePaths", "assetPaths"} {
				if v, ok := news[resource.PropertyKey(k)]; ok && !v.IsNull() {
					if a := strip(v); !a.IsArray() || len(a.ArrayValue()) > 0 {
						c.fail(k, k+" is not supported by this pulumi-resource-command build")
					}
				}
			}
		}
	}
	if typ == tCopyToRemote || typ == tCopyFile {
		p, unk, err := optString(news, "remotePath")
		if err != nil {
			c.fail("remotePath", err.Error())
		} else if !unk && (p == nil || *p == "") {
			c.fail("remotePath", "missing required property 'remotePath'")
		}
	}
	if typ == tCopyFile {
		p, unk, err := optString(news, "localPath")
		if err != nil {
			c.fail("localPath", err.Error())
		} else if !unk && (p == nil || *p == "") {
			c.fail("localPath", "missing required property 'localPath'")
		}
	}
	if typ == tCopyToRemote {
		checkSource(news, c)
	}
	if v, ok := news["triggers"]; ok && !v.IsNull() {
		if sv := strip(v); !sv.IsComputed() && !sv.IsArray() {
			c.fail("triggers", "triggers must be a list")
		}
		news["triggers"] = hashAssets(v, c)
	}
}

// hashAssets computes missing asset/archive hashes so that Diff detects content changes.
func hashAssets(v resource.PropertyValue, c *checker) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(hashAssets(v.SecretValue().Element, c))
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = hashAssets(e, c)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = hashAssets(e, c)
		}
		return resource.NewObjectProperty(m)
	case v.IsAsset():
		if err := v.AssetValue().EnsureHash(); err != nil {
			c.fail("source", "cannot read asset: "+err.Error())
		}
	case v.IsArchive():
		if err := v.ArchiveValue().EnsureHash(); err != nil {
			c.fail("source", "cannot read archive: "+err.Error())
		}
	}
	return v
}

func checkSource(news resource.PropertyMap, c *checker) {
	v, ok := news["source"]
	if !ok || v.IsNull() {
		c.fail("source", "missing required property 'source'")
		return
	}
	sv := strip(v)
	switch {
	case sv.IsComputed():
		return
	case sv.IsAsset():
		a := sv.AssetValue()
		if !a.IsPath() && !a.IsText() {
			c.fail("source", "source asset must be a FileAsset or a StringAsset")
			return
		}
	case sv.IsArchive():
		if !sv.ArchiveValue().IsPath() {
			c.fail("source", "source archive must be a FileArchive (a path to a file or directory)")
			return
		}
	default:
		c.fail("source", "source must be an asset or an archive, not "+sv.TypeString())
		return
	}
	news["source"] = hashAssets(v, c)
}

// checkConnectionProp validates the connection object and applies its defaults (inside a secret
// wrapper when there is one).
func checkConnectionProp(news resource.PropertyMap, c *checker) {
	v, ok := news["connection"]
	if !ok || v.IsNull() {
		c.fail("connection", "missing required property 'connection'")
		return
	}
	secret := v.IsSecret()
	inner := v
	if secret {
		inner = v.SecretValue().Element
	}
	if inner.IsComputed() || (inner.IsOutput() && !inner.OutputValue().Known) {
		return
	}
	if inner.IsOutput() {
		secret = secret || inner.OutputValue().Secret
		inner = inner.OutputValue().Element
	}
	if !inner.IsObject() {
		c.fail("connection", "connection must be an object, not "+inner.TypeString())
		return
	}
	m := checkConnectionObject(inner.ObjectValue().Copy(), "connection", false, c)
	news["connection"] = withSecretness(resource.NewObjectProperty(m), secret)
}

func checkConnectionObject(m resource.PropertyMap, path string, isProxy bool, c *checker) resource.PropertyMap {
	for k := range m {
		if !connectionFields[string(k)] {
			c.fail(path+"."+string(k), fmt.Sprintf("unknown property %q", k))
		}
	}
	if h, unk, err := optString(m, "host"); err != nil {
		c.fail(path+".host", err.Error())
	} else if !unk && (h == nil || *h == "") {
		c.fail(path+".host", "missing required property 'host'")
	}
	setDefault := func(k string, v resource.PropertyValue) {
		if cur, ok := m[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			m[resource.PropertyKey(k)] = v
		}
	}
	setDefault("port", resource.NewNumberProperty(defaultPort))
	setDefault("user", resource.NewStringProperty(defaultUser))
	setDefault("dialErrorLimit", resource.NewNumberProperty(defaultDialErrorLimit))
	setDefault("perDialTimeout", resource.NewNumberProperty(defaultPerDialTimeout))
	if p, unk, err := optNumber(m, "port", defaultPort); err != nil {
		c.fail(path+".port", err.Error())
	} else if !unk && (p < 1 || p > 65535 || p != float64(int(p))) {
		c.fail(path+".port", fmt.Sprintf("port must be an integer in 1..65535 (got %v)", p))
	}
	for _, k := range []string{"dialErrorLimit", "perDialTimeout"} {
		if n, unk, err := optNumber(m, k, 0); err != nil {
			c.fail(path+"."+k, err.Error())
		} else if !unk && n != float64(int(n)) {
			c.fail(path+"."+k, k+" must be an integer")
		}
	}
	for _, k := range []string{"user", "password", "privateKey", "privateKeyPassword", "agentSocketPath"} {
		if _, _, err := optString(m, k); err != nil {
			c.fail(path+"."+k, err.Error())
		}
	}
	if hk, unk, err := optString(m, "hostKey"); err != nil {
		c.fail(path+".hostKey", err.Error())
	} else if !unk && hk != nil && strings.TrimSpace(*hk) != "" {
		if _, err := parseHostKey(*hk); err != nil {
			c.fail(path+".hostKey", err.Error())
		}
	}
	if pv, ok := m["proxy"]; ok && !pv.IsNull() {
		if isProxy {
			c.fail(path+".proxy", "nested proxies are not supported")
		} else {
			secret := pv.IsSecret()
			inner := pv
			if secret {
				inner = pv.SecretValue().Element
			}
			switch {
			case inner.IsComputed():
			case inner.IsObject():
				pm := checkConnectionObject(inner.ObjectValue().Copy(), path+".proxy", true, c)
				m["proxy"] = withSecretness(resource.NewObjectProperty(pm), secret)
			default:
				c.fail(path+".proxy", "proxy must be an object, not "+inner.TypeString())
			}
		}
	}
	return m
}

// ---------------------------------------------------------------------------------------------
// Diff

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ := urnType(req.GetUrn())
	olds, err := oldInputs(req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := set(req.GetIgnoreChanges()...)
	keys := map[string]bool{}
	for k := range olds {
		keys[string(k)] = true
	}
	for k := range news {
		keys[string(k)] = true
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	var diffs, replaces []string
	for k := range keys {
		if outputOnlyKeys[k] || strings.HasPrefix(k, "__") || ignored[k] {
			continue
		}
		o, hasO := olds[resource.PropertyKey(k)]
		n, hasN := news[resource.PropertyKey(k)]
		hasO = hasO && !o.IsNull()
		hasN = hasN && !n.IsNull()
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !hasO && !hasN:
			continue
		case !hasO:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasN:
			kind = pulumirpc.PropertyDiff_DELETE
		default:
			if valuesEqual(o, n) {
				continue
			}
			kind = pulumirpc.PropertyDiff_UPDATE
		}
		if k == "triggers" {
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD
			replaces = append(replaces, k)
		}
		diffs = append(diffs, k)
		detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	sort.Strings(diffs)
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	_ = typ
	return &pulumirpc.DiffResponse{
		Changes: changes, Diffs: diffs, Replaces: replaces, DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// oldInputs returns the old inputs, falling back to the state minus output-only properties.
func oldInputs(inputs, state *structpb.Struct) (resource.PropertyMap, error) {
	if inputs != nil && len(inputs.GetFields()) > 0 {
		return unmarshal(inputs)
	}
	m, err := unmarshal(state)
	if err != nil {
		return nil, err
	}
	for k := range outputOnlyKeys {
		delete(m, resource.PropertyKey(k))
	}
	return m, nil
}

// valuesEqual compares two inputs ignoring secretness; unknown new values count as changes.
func valuesEqual(o, n resource.PropertyValue) bool {
	so, sn := strip(o), strip(n)
	if sn.ContainsUnknowns() || so.ContainsUnknowns() {
		return false
	}
	return so.DeepEquals(sn)
}

func propChanged(olds, news resource.PropertyMap, key string) bool {
	o, hasO := olds[resource.PropertyKey(key)]
	n, hasN := news[resource.PropertyKey(key)]
	hasO = hasO && !o.IsNull()
	hasN = hasN && !n.IsNull()
	if hasO != hasN {
		return true
	}
	return hasO && !valuesEqual(o, n)
}

// targetChanged reports whether the connection now points at another endpoint (host, port, user
// or proxy endpoint); changes of credentials, timeouts or hostKey alone do not count.
func targetChanged(olds, news resource.PropertyMap) bool {
	oc, nc := strip(olds["connection"]), strip(news["connection"])
	if !oc.IsObject() || !nc.IsObject() {
		return !valuesEqual(olds["connection"], news["connection"])
	}
	om, nm := oc.ObjectValue(), nc.ObjectValue()
	for _, k := range []string{"host", "port", "user"} {
		if propChanged(om, nm, k) {
			return true
		}
	}
	op, np := strip(om["proxy"]), strip(nm["proxy"])
	if op.IsObject() != np.IsObject() {
		return true
	}
	if op.IsObject() {
		for _, k := range []string{"host", "port", "user"} {
			if propChanged(op.ObjectValue(), np.ObjectValue(), k) {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------------
// Create / Update / Delete / Read

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ := urnType(req.GetUrn())
	urn := resource.URN(req.GetUrn())
	news, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = urn.Name()
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	switch {
	case isCommandType(typ):
		create, _, _ := optString(news, "create")
		switch {
		case req.GetPreview():
			if create != nil || isUnknown(news["create"]) {
				outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
				outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
			} else {
				setStdio(outs, news, runResult{})
			}
		case create == nil:
			setStdio(outs, news, runResult{})
		default:
			octx, cancel := s.opContext(ctx, req.GetTimeout())
			defer cancel()
			res, err := s.runCommand(octx, urn, typ, news, *create, nil)
			if err != nil {
				return nil, err
			}
			setStdio(outs, news, res)
		}
	case typ == tCopyToRemote || typ == tCopyFile:
		if !req.GetPreview() {
			octx, cancel := s.opContext(ctx, req.GetTimeout())
			defer cancel()
			if err := s.copyToRemote(octx, urn, typ, news); err != nil {
				return nil, err
			}
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown resource type %q", typ)
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// setStdio stores stdout/stderr, secret when any command input is secret (the connection, which
// the SDK always marks secret, does not count).
func setStdio(outs, inputs resource.PropertyMap, res runResult) {
	secret := anySecret(inputs, "create", "update", "delete", "stdin", "environment", "triggers", "dir", "interpreter")
	outs["stdout"] = withSecretness(resource.NewStringProperty(res.Stdout), secret)
	outs["stderr"] = withSecretness(resource.NewStringProperty(res.Stderr), secret)
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	typ := urnType(req.GetUrn())
	urn := resource.URN(req.GetUrn())
	state, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	olds, err := oldInputs(req.GetOldInputs(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	switch {
	case isCommandType(typ):
		run := false
		for _, k := range []string{"create", "update", "environment", "stdin", "triggers", "dir", "interpreter"} {
			run = run || propChanged(olds, news, k)
		}
		if typ == tRemoteCommand {
			run = run || targetChanged(olds, news)
		}
		cmd, _, _ := optString(news, "update")
		if cmd == nil && !isUnknown(news["update"]) {
			cmd, _, _ = optString(news, "create")
		}
		prev := runResult{Stdout: stateString(state, "stdout"), Stderr: stateString(state, "stderr")}
		switch {
		case !run || (cmd == nil && !isUnknown(news["update"]) && !isUnknown(news["create"])):
			setStdio(outs, news, prev)
		case req.GetPreview():
			outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
			outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
		default:
			octx, cancel := s.opContext(ctx, req.GetTimeout())
			defer cancel()
			res, err := s.runCommand(octx, urn, typ, news, *cmd, prevEnv(news, prev))
			if err != nil {
				return nil, err
			}
			setStdio(outs, news, res)
		}
	case typ == tCopyToRemote || typ == tCopyFile:
		need := targetChanged(olds, news)
		for _, k := range []string{"source", "localPath", "remotePath", "triggers"} {
			need = need || propChanged(olds, news, k)
		}
		if need && !req.GetPreview() {
			octx, cancel := s.opContext(ctx, req.GetTimeout())
			defer cancel()
			if err := s.copyToRemote(octx, urn, typ, news); err != nil {
				return nil, err
			}
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown resource type %q", typ)
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func stateString(m resource.PropertyMap, key string) string {
	s, _, _ := optString(m, key)
	if s == nil {
		return ""
	}
	return *s
}

// prevEnv returns PULUMI_COMMAND_STDOUT/STDERR when addPreviousOutputInEnv is true (the default).
func prevEnv(inputs resource.PropertyMap, prev runResult) map[string]string {
	if add, _, _ := optBool(inputs, "addPreviousOutputInEnv", true); !add {
		return nil
	}
	env := map[string]string{}
	if prev.Stdout != "" {
		env["PULUMI_COMMAND_STDOUT"] = prev.Stdout
	}
	if prev.Stderr != "" {
		env["PULUMI_COMMAND_STDERR"] = prev.Stderr
	}
	return env
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	typ := urnType(req.GetUrn())
	if !isCommandType(typ) {
		return &emptypb.Empty{}, nil // copies are left in place, as upstream does
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	del, _, _ := optString(state, "delete")
	if del == nil {
		return &emptypb.Empty{}, nil
	}
	octx, cancel := s.opContext(ctx, req.GetTimeout())
	defer cancel()
	prev := runResult{Stdout: stateString(state, "stdout"), Stderr: stateString(state, "stderr")}
	if _, err := s.runCommand(octx, resource.URN(req.GetUrn()), typ, state, *del, prevEnv(state, prev)); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if req.GetProperties() == nil || len(req.GetProperties().GetFields()) == 0 {
		return nil, status.Error(codes.Unimplemented, "importing command resources is not supported")
	}
	inputs := req.GetInputs()
	if inputs == nil || len(inputs.GetFields()) == 0 {
		m, err := oldInputs(nil, req.GetProperties())
		if err != nil {
			return nil, err
		}
		if inputs, err = marshal(m); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}

// ---------------------------------------------------------------------------------------------
// Invoke (command:local:run)

func (s *server) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != fLocalRun {
		return nil, status.Errorf(codes.InvalidArgument, "unknown function %q", req.GetTok())
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	c := &checker{}
	allowed := set("command", "dir", "environment", "interpreter", "stdin", "logging", "addPreviousOutputInEnv",
		"archivePaths", "assetPaths")
	checkInputs(tLocalCommand, args, allowed, c)
	cmd, _, _ := optString(args, "command")
	if cmd == nil {
		c.fail("command", "missing required property 'command'")
	}
	if len(c.failures) > 0 {
		return &pulumirpc.InvokeResponse{Failures: c.failures}, nil
	}
	octx, cancel := s.opContext(ctx, 0)
	defer cancel()
	res, err := s.runCommand(octx, "", tLocalCommand, args, *cmd, nil)
	if err != nil {
		return nil, err
	}
	outs := args.Copy()
	secret := anySecret(args, "command", "stdin", "environment", "dir", "interpreter")
	outs["stdout"] = withSecretness(resource.NewStringProperty(res.Stdout), secret)
	outs["stderr"] = withSecretness(resource.NewStringProperty(res.Stderr), secret)
	ret, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

// ---------------------------------------------------------------------------------------------
// Running commands

func (s *server) runCommand(ctx context.Context, urn resource.URN, typ string, inputs resource.PropertyMap,
	cmd string, prev map[string]string,
) (runResult, error) {
	logMode := logStdoutAndStderr
	if l, _, _ := optString(inputs, "logging"); l != nil {
		logMode = *l
	}
	env, _, err := optStringMap(inputs, "environment")
	if err != nil {
		return runResult{}, err
	}
	stdin, _, _ := optString(inputs, "stdin")
	red := redactor(secretStrings(inputs))
	sink := newOutputSink(logMode,
		func(l string) { s.log(ctx, diag.Info, urn, l) },
		func(l string) { s.log(ctx, diag.Warning, urn, l) },
		red)
	cmdSecret := anySecret(inputs, "create", "update", "delete", "command")
	var res runResult
	switch typ {
	case tRemoteCommand:
		conn, err := parseConnection(inputs["connection"], false)
		if err != nil {
			return runResult{}, err
		}
		c, err := dial(ctx, conn, func(msg string) { s.logStatus(ctx, diag.Info, urn, red.apply(msg)) })
		if err != nil {
			return runResult{}, errors.New(red.apply(err.Error()))
		}
		defer c.Close()
		res, err = runRemote(ctx, c, runSpec{Command: cmd, Env: env, PrevEnv: prev, Stdin: stdin, Out: sink})
		if err != nil {
			return res, decorate(err, cmd, cmdSecret, red)
		}
	case tLocalCommand:
		dir, _, _ := optString(inputs, "dir")
		interp, _, _ := optStringList(inputs, "interpreter")
		res, err = runLocal(ctx, localSpec{runSpec: runSpec{Command: cmd, Env: env, PrevEnv: prev, Stdin: stdin, Out: sink},
			Dir: dir, Interpreter: interp})
		if err != nil {
			return res, decorate(err, cmd, cmdSecret, red)
		}
	default:
		return runResult{}, fmt.Errorf("cannot run commands for %s", typ)
	}
	return res, nil
}

func decorate(err error, cmd string, secret bool, red redactor) error {
	var ce *commandError
	if errors.As(err, &ce) {
		ce.command = displayCommand(cmd, secret, red)
		return ce
	}
	return errors.New(red.apply(err.Error()))
}
