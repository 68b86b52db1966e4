package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// Environment values larger than this are not sent (sshd packet and execve limits).
var maxEnvValueLen = 64 * 1024

// checkCommand validates the command inputs other than the connection and applies the defaults.
func checkCommand(news resource.PropertyMap, c *checker) {
	for _, k := range []string{"create", "update", "delete", "stdin"} {
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
	if v, ok := news["triggers"]; ok && !v.IsNull() {
		if sv := strip(v); !sv.IsComputed() && !sv.IsArray() {
			c.fail("triggers", "triggers must be a list")
		}
	}
}

// runResult is the outcome of running a command.
type runResult struct {
	Stdout, Stderr string
}

// setStdio stores stdout/stderr, secret when any command input is secret (the connection, which
// the SDK always marks secret, does not count).
func setStdio(outs, inputs resource.PropertyMap, res runResult) {
	secret := anySecret(inputs, "create", "update", "delete", "stdin", "environment", "triggers")
	outs["stdout"] = withSecretness(resource.NewStringProperty(res.Stdout), secret)
	outs["stderr"] = withSecretness(resource.NewStringProperty(res.Stderr), secret)
}

// setUnknownStdio marks stdout/stderr as not known before the command has run (preview).
func setUnknownStdio(outs resource.PropertyMap) {
	outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
	outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
}

// previousRun returns the outputs of the last run, kept in the state.
func previousRun(state resource.PropertyMap) runResult {
	get := func(key string) string {
		if s, _, _ := optString(state, key); s != nil {
			return *s
		}
		return ""
	}
	return runResult{Stdout: get("stdout"), Stderr: get("stderr")}
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

// runCommand dials the connection of inputs and runs cmd there, streaming its output to the engine
// log per the logging input. Errors are redacted and name the command (or "[secret]").
func (s *server) runCommand(ctx context.Context, urn resource.URN, inputs resource.PropertyMap,
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
	conn, err := parseConnection(inputs["connection"])
	if err != nil {
		return runResult{}, err
	}
	c, err := dial(ctx, conn, func(msg string) { s.logStatus(ctx, diag.Info, urn, red.apply(msg)) })
	if err != nil {
		return runResult{}, errors.New(red.apply(err.Error()))
	}
	defer c.Close()
	out := newOutputSink(logMode,
		func(l string) { s.log(ctx, diag.Info, urn, l) },
		func(l string) { s.log(ctx, diag.Warning, urn, l) },
		red)
	res, err := runRemote(ctx, c, cmd, env, prev, stdin, out)
	var ce *commandError
	switch {
	case errors.As(err, &ce):
		ce.command = displayCommand(cmd, anySecret(inputs, "create", "update", "delete"), red)
		return res, ce
	case err != nil:
		return res, errors.New(red.apply(err.Error()))
	}
	return res, nil
}

// runRemote runs cmd over a new session of conn. The environment goes as SSH "env" requests (never
// on the command line): env is the user's (rejections are reported), prev the previous outputs
// (failures to set them are ignored silently). Cancelling ctx sends SIGTERM, then closes.
func runRemote(ctx context.Context, conn *sshConn, cmd string, env, prev map[string]string, stdin *string,
	out *outputSink,
) (runResult, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return runResult{}, fmt.Errorf("opening ssh session: %w", err)
	}
	defer sess.Close()

	var rejected []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if len(env[k]) > maxEnvValueLen {
			out.warn(fmt.Sprintf("environment variable %s not sent: value longer than %d bytes", k, maxEnvValueLen))
		} else if err := sess.Setenv(k, env[k]); err != nil {
			rejected = append(rejected, k)
		}
	}
	if len(rejected) > 0 {
		out.warn(fmt.Sprintf("the ssh server rejected environment variable(s) %s (add them to sshd AcceptEnv)",
			strings.Join(rejected, ", ")))
	}
	for _, k := range slices.Sorted(maps.Keys(prev)) {
		if len(prev[k]) <= maxEnvValueLen {
			_ = sess.Setenv(k, prev[k])
		}
	}
	if stdin != nil && *stdin != "" {
		sess.Stdin = strings.NewReader(*stdin)
	}
	sess.Stdout = out.stdoutWriter()
	sess.Stderr = out.stderrWriter()
	if err := sess.Start(cmd); err != nil {
		return runResult{}, fmt.Errorf("starting remote command: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- sess.Wait() }()
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGTERM)
		select {
		case err = <-waitErr:
		case <-time.After(5 * time.Second):
			_ = sess.Close()
			_ = conn.Close()
			err = <-waitErr
		}
		if err == nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
	}
	out.flush()
	res := runResult{Stdout: strings.TrimSuffix(out.stdout.String(), "\n"), Stderr: strings.TrimSuffix(out.stderr.String(), "\n")}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr) && exitErr.Signal() != "":
		return res, &commandError{desc: "was killed by signal " + exitErr.Signal(), out: out}
	case errors.As(err, &exitErr):
		return res, &commandError{desc: fmt.Sprintf("exited with code %d", exitErr.ExitStatus()), out: out}
	case errors.As(err, &missing):
		return res, &commandError{desc: "ended without an exit status (connection lost?)", out: out}
	}
	return res, &commandError{desc: "failed: " + err.Error(), out: out}
}
