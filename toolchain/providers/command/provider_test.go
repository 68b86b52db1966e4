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
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
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

func urnFor(typ, name string) string { return "urn:pulumi:dev::lab::" + typ + "::" + name }

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
	m, err := unmarshal(s)
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

func doCheck(t *testing.T, p *server, typ string, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	res, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnFor(typ, "c"), News: mustMarshal(t, news)})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return mustUnmarshal(t, res.GetInputs()), res.GetFailures()
}

func checked(t *testing.T, p *server, typ string, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	in, failures := doCheck(t, p, typ, news)
	if len(failures) > 0 {
		t.Fatalf("unexpected check failures: %v", failures)
	}
	return in
}

func doCreate(t *testing.T, p *server, typ string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	t.Helper()
	res, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnFor(typ, "c"), Name: "c", Type: typ, Properties: mustMarshal(t, inputs), Preview: preview,
	})
	if err != nil {
		return "", nil, err
	}
	return res.GetId(), mustUnmarshal(t, res.GetProperties()), nil
}

func doUpdate(t *testing.T, p *server, typ string, state, oldIn, newIn resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	t.Helper()
	res, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: urnFor(typ, "c"), Id: "c1", Olds: mustMarshal(t, state), OldInputs: mustMarshal(t, oldIn),
		News: mustMarshal(t, newIn), Preview: preview,
	})
	if err != nil {
		return nil, err
	}
	return mustUnmarshal(t, res.GetProperties()), nil
}

func doDiff(t *testing.T, p *server, typ string, state, oldIn, newIn resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	res, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urnFor(typ, "c"), Id: "c1", Olds: mustMarshal(t, state), OldInputs: mustMarshal(t, oldIn),
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

func TestRemoteCreateRunsAndStreams(t *testing.T) {
	srv := newTestSSHServer(t)
	p, logs := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("echo hello; echo oops >&2; echo world"),
	})
	id, outs, err := doCreate(t, p, tRemoteCommand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "c") || len(id) != 9 {
		t.Errorf("unexpected id %q", id)
	}
	if got := str(outs, "stdout"); got != "hello\nworld" {
		t.Errorf("stdout = %q", got)
	}
	if got := str(outs, "stderr"); got != "oops" {
		t.Errorf("stderr = %q", got)
	}
	if !outs["connection"].IsSecret() {
		t.Error("connection must stay secret in outputs")
	}
	if outs["stdout"].IsSecret() {
		t.Error("stdout must not be secret when only the connection is secret")
	}
	for _, want := range []string{"info: hello", "info: oops", "info: world"} {
		if !strings.Contains(logs.text(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.text())
		}
	}
}

func TestEnvironmentAndStdin(t *testing.T) {
	srv := newTestSSHServer(t)
	srv.acceptEnv = func(n string) bool { return n == "FOO" || strings.HasPrefix(n, "PULUMI_") }
	p, logs := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection":  srv.connection(nil),
		"create":      resource.NewStringProperty(`echo "foo=$FOO bar=$BAR"; cat`),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"FOO": resource.NewStringProperty("x y"), "BAR": resource.NewStringProperty("b")}),
		"stdin":       resource.NewStringProperty("line1\nline2"),
	})
	_, outs, err := doCreate(t, p, tRemoteCommand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(outs, "stdout"); got != "foo=x y bar=\nline1\nline2" {
		t.Errorf("stdout = %q", got)
	}
	if !strings.Contains(logs.text(), "warning: the ssh server rejected environment variable(s) BAR") {
		t.Errorf("expected a warning about BAR:\n%s", logs.text())
	}
}

func TestHostKeyPinning(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	// Right key in known_hosts form works too.
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"hostKey": "[127.0.0.1]:22 " + strings.TrimSpace(srv.hostKeyLine())}),
		"create":     resource.NewStringProperty("echo ok"),
	})
	if _, outs, err := doCreate(t, p, tRemoteCommand, in, false); err != nil || str(outs, "stdout") != "ok" {
		t.Fatalf("pinned right key: err=%v", err)
	}

	other, _ := newKeyPair(t)
	in = checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"hostKey": string(ssh.MarshalAuthorizedKey(other.PublicKey()))}),
		"create":     resource.NewStringProperty("echo should-not-run"),
	})
	before := srv.conns.Load()
	execsBefore := srv.execs.Load()
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("expected host key mismatch, got %v", err)
	}
	if n := srv.conns.Load() - before; n != 1 {
		t.Errorf("host key mismatch must not be retried; %d connections", n)
	}
	if srv.execs.Load() != execsBefore {
		t.Error("command ran despite wrong host key")
	}
	// An invalid hostKey is a check failure.
	_, failures := doCheck(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"hostKey": "not a key"}),
	})
	if len(failures) != 1 || failures[0].GetProperty() != "connection.hostKey" {
		t.Errorf("failures = %v", failures)
	}
}

func TestDialRetry(t *testing.T) {
	srv := newTestSSHServer(t)
	srv.failFirst.Store(2)
	p, logs := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("echo up"),
	})
	if _, outs, err := doCreate(t, p, tRemoteCommand, in, false); err != nil || str(outs, "stdout") != "up" {
		t.Fatalf("err=%v", err)
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("expected 3 connection attempts, got %d", n)
	}
	if len(logs.status) != 2 || !strings.Contains(logs.status[0], "attempt 1/10") {
		t.Errorf("status = %v", logs.status)
	}

	srv2 := newTestSSHServer(t)
	srv2.failFirst.Store(100)
	in = checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv2.connection(map[string]any{"dialErrorLimit": float64(3)}),
		"create":     resource.NewStringProperty("echo up"),
	})
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil {
		t.Fatal("expected dial failure")
	}
	if n := srv2.conns.Load(); n != 3 {
		t.Errorf("dialErrorLimit 3: expected 3 attempts, got %d", n)
	}

	// Nothing listening: connection refused, retried, then a clear error.
	in = checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv2.connection(map[string]any{"port": float64(1), "dialErrorLimit": float64(2)}),
		"create":     resource.NewStringProperty("true"),
	})
	if _, _, err := doCreate(t, p, tRemoteCommand, in, false); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

func TestAuthFailureAndPassword(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"privateKey": nil, "password": srv.password}),
		"create":     resource.NewStringProperty("echo pw"),
	})
	if _, outs, err := doCreate(t, p, tRemoteCommand, in, false); err != nil || str(outs, "stdout") != "pw" {
		t.Fatalf("password auth: %v", err)
	}
	in = checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"privateKey": nil, "password": "wrong-password", "dialErrorLimit": float64(2)}),
		"create":     resource.NewStringProperty("echo pw"),
	})
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("expected auth failure, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Error("password leaked into the error")
	}
}

func TestExitCodeError(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	script := "for i in $(seq 1 50); do echo out$i; done; echo boom >&2; exit 3"
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty(script),
	})
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil {
		t.Fatal("expected an error")
	}
	msg := err.Error()
	for _, want := range []string{"exited with code 3", "boom", "out50", "last 30 lines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "out20\n") {
		t.Errorf("error should only carry the tail: %s", msg)
	}
	in["logging"] = resource.NewStringProperty("none")
	_, _, err = doCreate(t, p, tRemoteCommand, in, false)
	if err == nil || strings.Contains(err.Error(), "out50") || !strings.Contains(err.Error(), "exited with code 3") {
		t.Errorf("logging none: %v", err)
	}
}

func TestLoggingModesAndRedaction(t *testing.T) {
	srv := newTestSSHServer(t)
	p, logs := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection":  srv.connection(nil),
		"create":      resource.NewStringProperty(`echo "visible $TOKEN"; echo hidden-err >&2`),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"TOKEN": resource.MakeSecret(resource.NewStringProperty("s3cr3t-value"))}),
		"logging":     resource.NewStringProperty("stdout"),
	})
	_, outs, err := doCreate(t, p, tRemoteCommand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	text := logs.text()
	if !strings.Contains(text, "visible [secret]") || strings.Contains(text, "s3cr3t-value") || strings.Contains(text, "hidden-err") {
		t.Errorf("logs:\n%s", text)
	}
	if !outs["stdout"].IsSecret() || !outs["stderr"].IsSecret() {
		t.Error("stdout/stderr must be secret when an input is secret")
	}
	if str(outs, "stdout") != "visible s3cr3t-value" {
		t.Errorf("stdout = %q", str(outs, "stdout"))
	}
	_, failures := doCheck(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil), "logging": resource.NewStringProperty("loud"),
	})
	if len(failures) != 1 || failures[0].GetProperty() != "logging" {
		t.Errorf("failures = %v", failures)
	}
}

func TestCheckDefaultsAndValidation(t *testing.T) {
	p, _ := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewStringProperty("10.0.0.5")})),
		"create":     resource.NewStringProperty("true"),
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
	_, failures := doCheck(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": resource.MakeComputed(resource.NewStringProperty("")),
	})
	if len(failures) != 0 {
		t.Errorf("unknown connection: %v", failures)
	}
	_, failures = doCheck(t, p, tRemoteCommand, resource.PropertyMap{
		"create": resource.NewStringProperty("true"),
		"bogus":  resource.NewStringProperty("x"),
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"port": resource.NewNumberProperty(70000), "proxy": resource.NewObjectProperty(resource.PropertyMap{}),
		}),
	})
	got := map[string]bool{}
	for _, f := range failures {
		got[f.GetProperty()] = true
	}
	for _, want := range []string{"bogus", "connection.host", "connection.port", "connection.proxy.host"} {
		if !got[want] {
			t.Errorf("missing failure for %s: %v", want, failures)
		}
	}
	_, failures = doCheck(t, p, tRemoteCommand, resource.PropertyMap{"create": resource.NewStringProperty("true")})
	if len(failures) != 1 || failures[0].GetProperty() != "connection" {
		t.Errorf("missing connection: %v", failures)
	}
}

func TestPreviewDoesNotRun(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("echo x"),
	})
	_, outs, err := doCreate(t, p, tRemoteCommand, in, true)
	if err != nil {
		t.Fatal(err)
	}
	if !outs["stdout"].IsComputed() || srv.conns.Load() != 0 {
		t.Errorf("preview ran something: stdout=%v conns=%d", outs["stdout"], srv.conns.Load())
	}
}

func TestDiffUpdateDelete(t *testing.T) {
	srv := newTestSSHServer(t)
	p, logs := newTestProvider()
	dir := t.TempDir()
	marker := filepath.Join(dir, "deleted")
	base := resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("echo v1"),
		"delete":     resource.NewStringProperty(`echo "prev=$PULUMI_COMMAND_STDOUT" > ` + marker),
	}
	in1 := checked(t, p, tRemoteCommand, base)
	_, state1, err := doCreate(t, p, tRemoteCommand, in1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Same inputs: no diff (secretness differences ignored).
	same := checked(t, p, tRemoteCommand, base.Copy())
	if d := doDiff(t, p, tRemoteCommand, state1, in1, same); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("expected no changes, got %v", d.GetDiffs())
	}
	// create changed: in-place update that runs create again.
	m2 := base.Copy()
	m2["create"] = resource.NewStringProperty(`echo "v2 prev=$PULUMI_COMMAND_STDOUT"`)
	in2 := checked(t, p, tRemoteCommand, m2)
	d := doDiff(t, p, tRemoteCommand, state1, in1, in2)
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 ||
		d.GetDetailedDiff()["create"].GetKind() != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("diff = %v", d)
	}
	execs := srv.execs.Load()
	prev, err := doUpdate(t, p, tRemoteCommand, state1, in1, in2, true)
	if err != nil || !prev["stdout"].IsComputed() || srv.execs.Load() != execs {
		t.Fatalf("preview update: err=%v stdout=%v", err, prev["stdout"])
	}
	state2, err := doUpdate(t, p, tRemoteCommand, state1, in1, in2, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(state2, "stdout"); got != "v2 prev=v1" {
		t.Errorf("update stdout = %q", got)
	}
	// update set: runs update instead.
	m3 := m2.Copy()
	m3["update"] = resource.NewStringProperty("echo updated")
	in3 := checked(t, p, tRemoteCommand, m3)
	state3, err := doUpdate(t, p, tRemoteCommand, state2, in2, in3, false)
	if err != nil || str(state3, "stdout") != "updated" {
		t.Fatalf("update cmd: %v %q", err, str(state3, "stdout"))
	}
	// Only logging changed: state update, nothing runs.
	m4 := m3.Copy()
	m4["logging"] = resource.NewStringProperty("none")
	in4 := checked(t, p, tRemoteCommand, m4)
	execs = srv.execs.Load()
	state4, err := doUpdate(t, p, tRemoteCommand, state3, in3, in4, false)
	if err != nil || srv.execs.Load() != execs || str(state4, "stdout") != "updated" {
		t.Fatalf("logging-only update ran a command or lost stdout: %v", err)
	}
	// Triggers change: replacement.
	m5 := m4.Copy()
	m5["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("a")})
	in5 := checked(t, p, tRemoteCommand, m5)
	d = doDiff(t, p, tRemoteCommand, state4, in4, in5)
	if len(d.GetReplaces()) != 1 || d.GetReplaces()[0] != "triggers" ||
		d.GetDetailedDiff()["triggers"].GetKind() != pulumirpc.PropertyDiff_ADD_REPLACE {
		t.Errorf("triggers diff = %v", d)
	}
	// Delete runs delete with the previous stdout in the environment.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: urnFor(tRemoteCommand, "c"), Id: "c1", Properties: mustMarshal(t, state4), OldInputs: mustMarshal(t, in4),
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(b)) != "prev=updated" {
		t.Errorf("delete marker = %q, %v", b, err)
	}
	_ = logs
}

func TestSecretCommandKeepsSecretness(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.MakeSecret(resource.NewStringProperty("echo topsecret; exit 4")),
	})
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil || !strings.Contains(err.Error(), `"[secret]"`) || strings.Contains(err.Error(), "echo topsecret") {
		t.Errorf("secret command must not be shown: %v", err)
	}
}

func TestCopyToRemote(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	dst := t.TempDir()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "script.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "a.txt"), []byte("A"), 0o600); err != nil {
		t.Fatal(err)
	}
	// File asset into a new nested path.
	fa, err := asset.FromPath(filepath.Join(src, "script.sh"))
	if err != nil {
		t.Fatal(err)
	}
	in := checked(t, p, tCopyToRemote, resource.PropertyMap{
		"connection": srv.connection(nil),
		"source":     resource.NewAssetProperty(fa),
		"remotePath": resource.NewStringProperty(filepath.Join(dst, "deep", "x", "run.sh")),
	})
	if strip(in["source"]).AssetValue().Hash == "" {
		t.Error("Check must compute the asset hash")
	}
	if _, _, err := doCreate(t, p, tCopyToRemote, in, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dst, "deep", "x", "run.sh"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("copied file: %v %v", st, err)
	}
	// String asset.
	sa, _ := asset.FromText("hello text")
	in = checked(t, p, tCopyToRemote, resource.PropertyMap{
		"connection": srv.connection(nil),
		"source":     resource.NewAssetProperty(sa),
		"remotePath": resource.NewStringProperty(filepath.Join(dst, "t.txt")),
	})
	if _, _, err := doCreate(t, p, tCopyToRemote, in, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "t.txt")); string(b) != "hello text" {
		t.Errorf("text asset content %q", b)
	}
	// Directory archive into an existing directory -> dst/<basename>.
	ar, err := archive.FromPath(src)
	if err != nil {
		t.Fatal(err)
	}
	in = checked(t, p, tCopyToRemote, resource.PropertyMap{
		"connection": srv.connection(nil),
		"source":     resource.NewArchiveProperty(ar),
		"remotePath": resource.NewStringProperty(dst),
	})
	if _, _, err := doCreate(t, p, tCopyToRemote, in, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, filepath.Base(src), "sub", "a.txt")); string(b) != "A" {
		t.Errorf("directory copy missing sub/a.txt")
	}
	// Content change is detected by Diff (hash) and re-copied by Update.
	if err := os.WriteFile(filepath.Join(src, "script.sh"), []byte("#!/bin/sh\necho changed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fa2, _ := asset.FromPath(filepath.Join(src, "script.sh"))
	oldIn := checked(t, p, tCopyToRemote, resource.PropertyMap{
		"connection": srv.connection(nil), "source": resource.NewAssetProperty(fa),
		"remotePath": resource.NewStringProperty(filepath.Join(dst, "deep", "x", "run.sh")),
	})
	newIn := checked(t, p, tCopyToRemote, resource.PropertyMap{
		"connection": srv.connection(nil), "source": resource.NewAssetProperty(fa2),
		"remotePath": resource.NewStringProperty(filepath.Join(dst, "deep", "x", "run.sh")),
	})
	if d := doDiff(t, p, tCopyToRemote, oldIn, oldIn, newIn); d.GetDetailedDiff()["source"] == nil {
		t.Errorf("source change not detected: %v", d)
	}
	if _, err := doUpdate(t, p, tCopyToRemote, oldIn, oldIn, newIn, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "deep", "x", "run.sh")); !strings.Contains(string(b), "changed") {
		t.Errorf("update did not re-copy: %q", b)
	}
}

func TestLocalCommandAndRun(t *testing.T) {
	p, _ := newTestProvider()
	dir := t.TempDir()
	in := checked(t, p, tLocalCommand, resource.PropertyMap{
		"create":      resource.NewStringProperty(`echo "$GREETING from $(pwd)"; cat`),
		"dir":         resource.NewStringProperty(dir),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"GREETING": resource.NewStringProperty("hi")}),
		"stdin":       resource.NewStringProperty("in"),
	})
	_, outs, err := doCreate(t, p, tLocalCommand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(outs, "stdout"); got != "hi from "+dir+"\nin" {
		t.Errorf("stdout = %q", got)
	}
	in = checked(t, p, tLocalCommand, resource.PropertyMap{"create": resource.NewStringProperty("exit 7")})
	if _, _, err := doCreate(t, p, tLocalCommand, in, false); err == nil || !strings.Contains(err.Error(), "exited with code 7") {
		t.Errorf("err = %v", err)
	}
	res, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: fLocalRun,
		Args: mustMarshal(t, resource.PropertyMap{"command": resource.NewStringProperty("echo ran")})})
	if err != nil || len(res.GetFailures()) > 0 {
		t.Fatalf("invoke: %v %v", err, res.GetFailures())
	}
	if got := str(mustUnmarshal(t, res.GetReturn()), "stdout"); got != "ran" {
		t.Errorf("run stdout = %q", got)
	}
}

func TestCancelStopsCommand(t *testing.T) {
	srv := newTestSSHServer(t)
	p, _ := newTestProvider()
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.NewStringProperty("sleep 30"),
	})
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = p.Cancel(context.Background(), nil)
	}()
	start := time.Now()
	_, _, err := doCreate(t, p, tRemoteCommand, in, false)
	if err == nil || time.Since(start) > 15*time.Second {
		t.Errorf("cancel: err=%v after %v", err, time.Since(start))
	}
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

func TestProxyJumpHost(t *testing.T) {
	target := newTestSSHServer(t)
	jump := newTestSSHServer(t)
	p, _ := newTestProvider()
	proxy := resource.NewPropertyMapFromMap(map[string]any{
		"host": "127.0.0.1", "port": float64(jump.port), "user": "jumper",
		"password": jump.password, "hostKey": jump.hostKeyLine(),
	})
	conn := strip(target.connection(nil)).ObjectValue()
	conn["proxy"] = resource.NewObjectProperty(proxy)
	in := checked(t, p, tRemoteCommand, resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(conn)),
		"create":     resource.NewStringProperty("echo via-proxy"),
	})
	_, outs, err := doCreate(t, p, tRemoteCommand, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if str(outs, "stdout") != "via-proxy" || jump.forwards.Load() != 1 || target.execs.Load() != 1 || jump.execs.Load() != 0 {
		t.Errorf("stdout=%q forwards=%d target execs=%d jump execs=%d", str(outs, "stdout"),
			jump.forwards.Load(), target.execs.Load(), jump.execs.Load())
	}
}
