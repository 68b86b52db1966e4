package main

import (
	"context"
	"encoding/json"
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

// tRemoteCommand is the only resource this build implements. The other pulumi-command tokens
// (command:remote:CopyToRemote, command:remote:CopyFile, command:local:Command, command:local:run)
// are refused with errUnsupported: the lab does not use them.
const tRemoteCommand = "command:remote:Command"

// inputKeys are the input properties of command:remote:Command (pulumi-command 1.2.1 schema).
var inputKeys = set("connection", "create", "update", "delete", "environment", "stdin", "triggers",
	"addPreviousOutputInEnv", "logging")

// outputOnlyKeys are state properties that are not inputs.
var outputOnlyKeys = set("stdout", "stderr")

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func errUnsupported(what, tok string) error {
	return status.Errorf(codes.Unimplemented, "%s %q is not implemented by this pulumi-resource-command build "+
		"(only %s; see toolchain/providers/command/README.md)", what, tok, tRemoteCommand)
}

// engineLogger is implemented by provider.HostClient.
type engineLogger interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host   engineLogger
	ctx    context.Context // cancelled by Cancel
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

// properties decodes a request's properties of a command:remote:Command (urn).
func properties(urn string, s *structpb.Struct) (resource.PropertyMap, error) {
	if typ := resource.URN(urn).Type().String(); typ != tRemoteCommand {
		return nil, errUnsupported("resource type", typ)
	}
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

// oldInputs returns the old inputs, falling back to the state minus output-only properties.
func oldInputs(urn string, inputs, state *structpb.Struct) (resource.PropertyMap, error) {
	if inputs != nil && len(inputs.GetFields()) > 0 {
		return properties(urn, inputs)
	}
	m, err := properties(urn, state)
	for k := range outputOnlyKeys {
		delete(m, resource.PropertyKey(k))
	}
	return m, err
}

// changeRequest is a DiffRequest or an UpdateRequest.
type changeRequest interface {
	GetUrn() string
	GetOlds() *structpb.Struct
	GetOldInputs() *structpb.Struct
	GetNews() *structpb.Struct
}

// changedInputs decodes the old inputs (see oldInputs) and the new ones of a change.
func changedInputs(req changeRequest) (olds, news resource.PropertyMap, err error) {
	if olds, err = oldInputs(req.GetUrn(), req.GetOldInputs(), req.GetOlds()); err == nil {
		news, err = properties(req.GetUrn(), req.GetNews())
	}
	return olds, news, err
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: pkgVersion}, nil
}

// GetSchema returns a minimal package schema: the engine does not need the full pulumi-command
// schema for up/preview/refresh/destroy; this only names the package and its one resource.
func (s *server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	str := map[string]any{"type": "string"}
	num := map[string]any{"type": "integer"}
	props := map[string]any{
		"connection": map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true},
		"create":     str, "update": str, "delete": str, "stdin": str, "logging": str,
		"environment":            map[string]any{"type": "object", "additionalProperties": str},
		"triggers":               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}},
		"addPreviousOutputInEnv": map[string]any{"type": "boolean"},
	}
	b, err := json.Marshal(map[string]any{
		"name": "command", "version": pkgVersion,
		"types": map[string]any{"command:remote:Connection": map[string]any{"type": "object", "properties": map[string]any{
			"host": str, "port": num, "user": str, "privateKey": map[string]any{"type": "string", "secret": true},
			"hostKey": str, "dialErrorLimit": num, "perDialTimeout": num,
		}}},
		"resources": map[string]any{tRemoteCommand: map[string]any{"type": "object", "properties": props, "inputProperties": props}},
	})
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, err
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

func (s *server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, errUnsupported("function", req.GetTok())
}

// ---------------------------------------------------------------------------------------------
// Check

type checker struct{ failures []*pulumirpc.CheckFailure }

func (c *checker) fail(prop, reason string) {
	c.failures = append(c.failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
}

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := properties(req.GetUrn(), req.GetNews())
	if err != nil {
		return nil, err
	}
	c := &checker{}
	for k, v := range news {
		if !inputKeys[string(k)] && !strings.HasPrefix(string(k), "__") && !(outputOnlyKeys[string(k)] && v.IsNull()) {
			c.fail(string(k), fmt.Sprintf("unknown property %q for %s", k, tRemoteCommand))
		}
	}
	checkConnection(news, c)
	checkCommand(news, c)
	inputs, err := marshal(news)
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: c.failures}, err
}

// ---------------------------------------------------------------------------------------------
// Diff: every change is an in-place update, except triggers, whose change replaces.

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := changedInputs(req)
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
		if outputOnlyKeys[k] || strings.HasPrefix(k, "__") || ignored[k] || !propChanged(olds, news, k) {
			continue
		}
		o, n := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE
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
	return &pulumirpc.DiffResponse{
		Changes: changes, Diffs: diffs, Replaces: replaces, DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// valuesEqual compares two inputs ignoring secretness; unknown values count as changes.
func valuesEqual(o, n resource.PropertyValue) bool {
	so, sn := strip(o), strip(n)
	if sn.ContainsUnknowns() || so.ContainsUnknowns() {
		return false
	}
	return so.DeepEquals(sn)
}

// propChanged reports whether key was added, removed or changed (absent and null are the same).
func propChanged(olds, news resource.PropertyMap, key string) bool {
	o, n := olds[resource.PropertyKey(key)], news[resource.PropertyKey(key)]
	if o.IsNull() || n.IsNull() {
		return o.IsNull() != n.IsNull()
	}
	return !valuesEqual(o, n)
}

// ---------------------------------------------------------------------------------------------
// Create / Update / Delete / Read

// Create runs create (unless previewing: then stdout/stderr are unknown).
func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	news, err := properties(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	name := req.GetName()
	if name == "" {
		name = urn.Name()
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	create, _, _ := optString(news, "create")
	switch {
	case req.GetPreview() && (create != nil || isUnknown(news["create"])):
		setUnknownStdio(outs)
	case req.GetPreview() || create == nil:
		setStdio(outs, news, runResult{})
	default:
		if err := s.run(ctx, req.GetTimeout(), urn, news, *create, nil, outs); err != nil {
			return nil, err
		}
	}
	props, err := marshal(outs)
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
}

// Update runs update (or create when update is unset) only when create, update, environment,
// stdin, triggers or the connection's endpoint changed; other changes only update the state.
func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	state, err := properties(req.GetUrn(), req.GetOlds())
	if err != nil {
		return nil, err
	}
	olds, news, err := changedInputs(req)
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	run := targetChanged(olds, news)
	for _, k := range []string{"create", "update", "environment", "stdin", "triggers"} {
		run = run || propChanged(olds, news, k)
	}
	cmd, _, _ := optString(news, "update")
	if cmd == nil && !isUnknown(news["update"]) {
		cmd, _, _ = optString(news, "create")
	}
	prev := previousRun(state)
	switch {
	case !run || (cmd == nil && !isUnknown(news["update"]) && !isUnknown(news["create"])):
		setStdio(outs, news, prev)
	case req.GetPreview():
		setUnknownStdio(outs)
	default:
		if err := s.run(ctx, req.GetTimeout(), resource.URN(req.GetUrn()), news, *cmd, prevEnv(news, prev), outs); err != nil {
			return nil, err
		}
	}
	props, err := marshal(outs)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Delete runs delete, if set, with the previous outputs in the environment.
func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := properties(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	if del, _, _ := optString(state, "delete"); del != nil {
		err = s.run(ctx, req.GetTimeout(), resource.URN(req.GetUrn()), state, *del, prevEnv(state, previousRun(state)), nil)
	}
	return &emptypb.Empty{}, err
}

// run runs cmd within the operation's context and stores its outputs in outs (unless nil).
func (s *server) run(ctx context.Context, timeout float64, urn resource.URN, inputs resource.PropertyMap, cmd string,
	prev map[string]string, outs resource.PropertyMap,
) error {
	octx, cancel := s.opContext(ctx, timeout)
	defer cancel()
	res, err := s.runCommand(octx, urn, inputs, cmd, prev)
	if err == nil && outs != nil {
		setStdio(outs, inputs, res)
	}
	return err
}

// Read (refresh) returns the state unchanged; import is not supported.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if req.GetProperties() == nil || len(req.GetProperties().GetFields()) == 0 {
		return nil, status.Error(codes.Unimplemented, "importing command resources is not supported")
	}
	inputs := req.GetInputs()
	if inputs == nil || len(inputs.GetFields()) == 0 {
		m, err := oldInputs(req.GetUrn(), nil, req.GetProperties())
		if err != nil {
			return nil, err
		}
		if inputs, err = marshal(m); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
}
