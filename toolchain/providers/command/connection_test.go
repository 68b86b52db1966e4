package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

func TestHostKeyPinning(t *testing.T) {
	srv, p, _ := setup(t)
	// Right key in known_hosts form works too.
	in := checked(t, p, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"hostKey": "[127.0.0.1]:22 " + strings.TrimSpace(srv.hostKeyLine())}),
		"create":     resource.NewStringProperty("echo ok"),
	})
	if _, outs, err := doCreate(t, p, in, false); err != nil || str(outs, "stdout") != "ok" {
		t.Fatalf("pinned right key: err=%v", err)
	}

	other, _ := newKeyPair(t)
	in = checked(t, p, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"hostKey": string(ssh.MarshalAuthorizedKey(other.PublicKey()))}),
		"create":     resource.NewStringProperty("echo should-not-run"),
	})
	before := srv.conns.Load()
	execsBefore := srv.execs.Load()
	_, _, err := doCreate(t, p, in, false)
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
	_, failures := doCheck(t, p, resource.PropertyMap{
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
	in := commandOn(t, p, srv, "echo up")
	if _, outs, err := doCreate(t, p, in, false); err != nil || str(outs, "stdout") != "up" {
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
	in = checked(t, p, resource.PropertyMap{
		"connection": srv2.connection(map[string]any{"dialErrorLimit": float64(3)}),
		"create":     resource.NewStringProperty("echo up"),
	})
	_, _, err := doCreate(t, p, in, false)
	if err == nil {
		t.Fatal("expected dial failure")
	}
	if n := srv2.conns.Load(); n != 3 {
		t.Errorf("dialErrorLimit 3: expected 3 attempts, got %d", n)
	}

	// Nothing listening: connection refused, retried, then a clear error.
	in = checked(t, p, resource.PropertyMap{
		"connection": srv2.connection(map[string]any{"port": float64(1), "dialErrorLimit": float64(2)}),
		"create":     resource.NewStringProperty("true"),
	})
	if _, _, err := doCreate(t, p, in, false); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

func TestAuthFailure(t *testing.T) {
	srv, p, _ := setup(t)
	_, wrongKey := newKeyPair(t)
	in := checked(t, p, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"privateKey": wrongKey, "dialErrorLimit": float64(2)}),
		"create":     resource.NewStringProperty("echo never"),
	})
	_, _, err := doCreate(t, p, in, false)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("expected auth failure, got %v", err)
	}
	if n := srv.conns.Load(); n != 2 || srv.execs.Load() != 0 {
		t.Errorf("auth failures are retried up to dialErrorLimit: %d connections, %d execs", n, srv.execs.Load())
	}
	in = checked(t, p, resource.PropertyMap{
		"connection": srv.connection(map[string]any{"privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-at-all\n"}),
		"create":     resource.NewStringProperty("echo never"),
	})
	_, _, err = doCreate(t, p, in, false)
	if err == nil || !strings.Contains(err.Error(), "could not be parsed") || strings.Contains(err.Error(), "not-a-key-at-all") {
		t.Errorf("unparsable key: %v", err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("an unparsable key must not dial: %d connections", n)
	}
}
