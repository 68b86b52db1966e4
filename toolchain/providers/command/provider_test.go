package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

type pulumirpcStruct = structpb.Struct

func init() {
	dialRetryPause = 20 * time.Millisecond
}

type fakeLog struct {
	mu     sync.Mutex
	lines  []string
	status []string
}

func (f *fakeLog) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, string(sev)+": "+msg)
	return nil
}

func (f *fakeLog) LogStatus(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = append(f.status, string(sev)+": "+msg)
	return nil
}

func (f *fakeLog) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.lines, "\n")
}

func urnFor(name string) string { return "urn:pulumi:dev::lab::" + tRemoteCommand + "::" + name }

func mustMarshal(t *testing.T, m resource.PropertyMap) *pulumirpcStruct {
	t.Helper()
	s, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, s *pulumirpcStruct) resource.PropertyMap {
	t.Helper()
	m, err := properties(urnFor("c"), s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// connection builds a secret connection object for the test server (key auth, pinned host key).
func (s *testSSHServer) connection(overrides map[string]any) resource.PropertyValue {
	m := map[string]any{
		"host":       "127.0.0.1",
		"port":       float64(s.port),
		"user":       "tester",
		"privateKey": s.clientPEM,
		"hostKey":    s.hostKeyLine(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return resource.MakeSecret(resource.NewObjectProperty(resource.NewPropertyMapFromMap(m)))
}

func doCheck(t *testing.T, p *server, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	res, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnFor("c"), News: mustMarshal(t, news)})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return mustUnmarshal(t, res.GetInputs()), res.GetFailures()
}

func checked(t *testing.T, p *server, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	in, failures := doCheck(t, p, news)
	if len(failures) > 0 {
		t.Fatalf("unexpected check failures: %v", failures)
	}
	return in
}

func doCreate(t *testing.T, p *server, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	t.Helper()
	res, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnFor("c"), Name: "c", Type: tRemoteCommand, Properties: mustMarshal(t, inputs), Preview: preview,
	})
	if err != nil {
		return "", nil, err
	}
	return res.GetId(), mustUnmarshal(t, res.GetProperties()), nil
}

func doUpdate(t *testing.T, p *server, state, oldIn, newIn resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	t.Helper()
	res, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: urnFor("c"), Id: "c1", Olds: mustMarshal(t, state), OldInputs: mustMarshal(t, oldIn),
		News: mustMarshal(t, newIn), Preview: preview,
	})
	if err != nil {
		return nil, err
	}
	return mustUnmarshal(t, res.GetProperties()), nil
}

func doDiff(t *testing.T, p *server, state, oldIn, newIn resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	res, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urnFor("c"), Id: "c1", Olds: mustMarshal(t, state), OldInputs: mustMarshal(t, oldIn),
		News: mustMarshal(t, newIn),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func str(m resource.PropertyMap, k string) string {
	v := strip(m[resource.PropertyKey(k)])
	if !v.IsString() {
		return fmt.Sprintf("<%s>", v.TypeString())
	}
	return v.StringValue()
}

func newTestProvider() (*server, *fakeLog) {
	l := &fakeLog{}
	return newServer(l), l
}

// setup starts a test SSH server and a provider logging to a fakeLog.
func setup(t *testing.T) (*testSSHServer, *server, *fakeLog) {
	p, l := newTestProvider()
	return newTestSSHServer(t), p, l
}

// commandOn returns the checked inputs of a command running create on srv.
func commandOn(t *testing.T, p *server, srv *testSSHServer, create string) resource.PropertyMap {
	t.Helper()
	return checked(t, p, resource.PropertyMap{"connection": srv.connection(nil), "create": resource.NewStringProperty(create)})
}

// mustCreate runs Create (a preview if asked), fails the test on an error and returns the ID and outputs.
func mustCreate(t *testing.T, p *server, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap) {
	t.Helper()
	id, outs, err := doCreate(t, p, inputs, preview)
	if err != nil {
		t.Fatal(err)
	}
	return id, outs
}

func TestCheckDefaultsAndValidation(t *testing.T) {
	p, _ := newTestProvider()
	in := checked(t, p, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"host": resource.NewStringProperty("10.0.0.5"), "privateKey": resource.NewStringProperty("key"),
		})),
		"create": resource.NewStringProperty("true"),
	})
	if !in["connection"].IsSecret() {
		t.Fatal("connection lost its secretness in Check")
	}
	conn := strip(in["connection"]).ObjectValue()
	if conn["port"].NumberValue() != 22 || conn["user"].StringValue() != "root" ||
		conn["dialErrorLimit"].NumberValue() != 10 || conn["perDialTimeout"].NumberValue() != 15 {
		t.Errorf("defaults not applied: %v", conn)
	}
	if !in["addPreviousOutputInEnv"].BoolValue() {
		t.Error("addPreviousOutputInEnv default must be true")
	}
	// Unknown connection (preview) passes.
	_, failures := doCheck(t, p, resource.PropertyMap{
		"connection": resource.MakeComputed(resource.NewStringProperty("")),
	})
	if len(failures) != 0 {
		t.Errorf("unknown connection: %v", failures)
	}
	_, failures = doCheck(t, p, resource.PropertyMap{
		"create": resource.NewStringProperty("true"),
		"bogus":  resource.NewStringProperty("x"),
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"port": resource.NewNumberProperty(70000), "proxy": resource.NewObjectProperty(resource.PropertyMap{}),
			"password": resource.NewStringProperty("pw"), "agentSocketPath": resource.NewNullProperty(),
		}),
	})
	got := map[string]bool{}
	for _, f := range failures {
		got[f.GetProperty()] = true
	}
	for _, want := range []string{"bogus", "connection.host", "connection.privateKey", "connection.port",
		"connection.proxy", "connection.password"} {
		if !got[want] {
			t.Errorf("missing failure for %s: %v", want, failures)
		}
	}
	if len(failures) != 6 {
		t.Errorf("null unsupported fields must pass: %v", failures)
	}
	_, failures = doCheck(t, p, resource.PropertyMap{"create": resource.NewStringProperty("true")})
	if len(failures) != 1 || failures[0].GetProperty() != "connection" {
		t.Errorf("missing connection: %v", failures)
	}
}

func TestPreviewDoesNotRun(t *testing.T) {
	srv, p, _ := setup(t)
	in := commandOn(t, p, srv, "echo x")
	_, outs := mustCreate(t, p, in, true)
	if !outs["stdout"].IsComputed() || srv.conns.Load() != 0 {
		t.Errorf("preview ran something: stdout=%v conns=%d", outs["stdout"], srv.conns.Load())
	}
}

func TestDiffUpdateDelete(t *testing.T) {
	srv, p, logs := setup(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "deleted")
	base := resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("echo v1"),
		"delete":     resource.NewStringProperty(`echo "prev=$PULUMI_COMMAND_STDOUT" > ` + marker),
	}
	in1 := checked(t, p, base)
	_, state1 := mustCreate(t, p, in1, false)
	// Same inputs: no diff (secretness differences ignored).
	same := checked(t, p, base.Copy())
	if d := doDiff(t, p, state1, in1, same); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("expected no changes, got %v", d.GetDiffs())
	}
	// create changed: in-place update that runs create again.
	m2 := base.Copy()
	m2["create"] = resource.NewStringProperty(`echo "v2 prev=$PULUMI_COMMAND_STDOUT"`)
	in2 := checked(t, p, m2)
	d := doDiff(t, p, state1, in1, in2)
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 ||
		d.GetDetailedDiff()["create"].GetKind() != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("diff = %v", d)
	}
	execs := srv.execs.Load()
	prev, err := doUpdate(t, p, state1, in1, in2, true)
	if err != nil || !prev["stdout"].IsComputed() || srv.execs.Load() != execs {
		t.Fatalf("preview update: err=%v stdout=%v", err, prev["stdout"])
	}
	state2, err := doUpdate(t, p, state1, in1, in2, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(state2, "stdout"); got != "v2 prev=v1" {
		t.Errorf("update stdout = %q", got)
	}
	// update set: runs update instead.
	m3 := m2.Copy()
	m3["update"] = resource.NewStringProperty("echo updated")
	in3 := checked(t, p, m3)
	state3, err := doUpdate(t, p, state2, in2, in3, false)
	if err != nil || str(state3, "stdout") != "updated" {
		t.Fatalf("update cmd: %v %q", err, str(state3, "stdout"))
	}
	// Only logging changed: state update, nothing runs.
	m4 := m3.Copy()
	m4["logging"] = resource.NewStringProperty("none")
	in4 := checked(t, p, m4)
	execs = srv.execs.Load()
	state4, err := doUpdate(t, p, state3, in3, in4, false)
	if err != nil || srv.execs.Load() != execs || str(state4, "stdout") != "updated" {
		t.Fatalf("logging-only update ran a command or lost stdout: %v", err)
	}
	// Triggers change: replacement.
	m5 := m4.Copy()
	m5["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("a")})
	in5 := checked(t, p, m5)
	d = doDiff(t, p, state4, in4, in5)
	if len(d.GetReplaces()) != 1 || d.GetReplaces()[0] != "triggers" ||
		d.GetDetailedDiff()["triggers"].GetKind() != pulumirpc.PropertyDiff_ADD_REPLACE {
		t.Errorf("triggers diff = %v", d)
	}
	// Delete runs delete with the previous stdout in the environment.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: urnFor("c"), Id: "c1", Properties: mustMarshal(t, state4), OldInputs: mustMarshal(t, in4),
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(b)) != "prev=updated" {
		t.Errorf("delete marker = %q, %v", b, err)
	}
	_ = logs
}

func TestPluginInfoAndSchema(t *testing.T) {
	p, _ := newTestProvider()
	info, err := p.GetPluginInfo(context.Background(), nil)
	if err != nil || info.GetVersion() != "1.2.1" {
		t.Errorf("version = %q %v", info.GetVersion(), err)
	}
	s, err := p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil || !strings.Contains(s.GetSchema(), `"name":"command"`) {
		t.Errorf("schema: %v", err)
	}
}

func TestUnsupportedTokens(t *testing.T) {
	p, _ := newTestProvider()
	for _, typ := range []string{"command:local:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"} {
		_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
			Urn: "urn:pulumi:dev::lab::" + typ + "::x", News: mustMarshal(t, resource.PropertyMap{}),
		})
		if err == nil || !strings.Contains(err.Error(), typ) || !strings.Contains(err.Error(), "not implemented") {
			t.Errorf("%s: %v", typ, err)
		}
	}
	_, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: "command:local:run"})
	if err == nil || !strings.Contains(err.Error(), "command:local:run") {
		t.Errorf("invoke: %v", err)
	}
}
