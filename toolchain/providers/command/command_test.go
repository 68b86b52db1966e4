package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestRemoteCreateRunsAndStreams(t *testing.T) {
	srv, p, logs := setup(t)
	in := commandOn(t, p, srv, "echo hello; echo oops >&2; echo world")
	id, outs := mustCreate(t, p, in, false)
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
	in := checked(t, p, resource.PropertyMap{
		"connection":  srv.connection(nil),
		"create":      resource.NewStringProperty(`echo "foo=$FOO bar=$BAR"; cat`),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"FOO": resource.NewStringProperty("x y"), "BAR": resource.NewStringProperty("b")}),
		"stdin":       resource.NewStringProperty("line1\nline2"),
	})
	_, outs := mustCreate(t, p, in, false)
	if got := str(outs, "stdout"); got != "foo=x y bar=\nline1\nline2" {
		t.Errorf("stdout = %q", got)
	}
	if !strings.Contains(logs.text(), "warning: the ssh server rejected environment variable(s) BAR") {
		t.Errorf("expected a warning about BAR:\n%s", logs.text())
	}
}

func TestExitCodeError(t *testing.T) {
	srv, p, _ := setup(t)
	script := "for i in $(seq 1 50); do echo out$i; done; echo boom >&2; exit 3"
	in := commandOn(t, p, srv, script)
	_, _, err := doCreate(t, p, in, false)
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
	_, _, err = doCreate(t, p, in, false)
	if err == nil || strings.Contains(err.Error(), "out50") || !strings.Contains(err.Error(), "exited with code 3") {
		t.Errorf("logging none: %v", err)
	}
}

func TestLoggingModesAndRedaction(t *testing.T) {
	srv, p, logs := setup(t)
	in := checked(t, p, resource.PropertyMap{
		"connection":  srv.connection(nil),
		"create":      resource.NewStringProperty(`echo "visible $TOKEN"; echo hidden-err >&2`),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"TOKEN": resource.MakeSecret(resource.NewStringProperty("s3cr3t-value"))}),
		"logging":     resource.NewStringProperty("stdout"),
	})
	_, outs := mustCreate(t, p, in, false)
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
	_, failures := doCheck(t, p, resource.PropertyMap{
		"connection": srv.connection(nil), "logging": resource.NewStringProperty("loud"),
	})
	if len(failures) != 1 || failures[0].GetProperty() != "logging" {
		t.Errorf("failures = %v", failures)
	}
}

func TestSecretCommandKeepsSecretness(t *testing.T) {
	srv, p, _ := setup(t)
	in := checked(t, p, resource.PropertyMap{
		"connection": srv.connection(nil),
		"create":     resource.MakeSecret(resource.NewStringProperty("echo topsecret; exit 4")),
	})
	_, _, err := doCreate(t, p, in, false)
	if err == nil || !strings.Contains(err.Error(), `"[secret]"`) || strings.Contains(err.Error(), "echo topsecret") {
		t.Errorf("secret command must not be shown: %v", err)
	}
}

func TestCancelStopsCommand(t *testing.T) {
	srv, p, _ := setup(t)
	in := commandOn(t, p, srv, "sleep 30")
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = p.Cancel(context.Background(), nil)
	}()
	start := time.Now()
	_, _, err := doCreate(t, p, in, false)
	if err == nil || time.Since(start) > 15*time.Second {
		t.Errorf("cancel: err=%v after %v", err, time.Since(start))
	}
}
