package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// localSpec describes a command:local:Command execution.
type localSpec struct {
	runSpec
	Dir         *string
	Interpreter []string
}

// runLocal runs the command with the interpreter (default /bin/sh -c) in its own process group.
func runLocal(ctx context.Context, spec localSpec) (runResult, error) {
	args := spec.Interpreter
	if len(args) == 0 {
		args = []string{"/bin/sh", "-c"}
	}
	args = append(append([]string{}, args...), spec.Command)
	cmd := exec.Command(args[0], args[1:]...) //nolint:gosec // running the user's command is the point
	if spec.Dir != nil && *spec.Dir != "" {
		cmd.Dir = *spec.Dir
	}
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(spec.Env) {
		cmd.Env = append(cmd.Env, k+"="+spec.Env[k])
	}
	for _, k := range sortedKeys(spec.PrevEnv) {
		if v := spec.PrevEnv[k]; len(v) <= maxEnvValueLen {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if spec.Stdin != nil && *spec.Stdin != "" {
		cmd.Stdin = strings.NewReader(*spec.Stdin)
	}
	cmd.Stdout = spec.Out.stdoutWriter()
	cmd.Stderr = spec.Out.stderrWriter()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Do not hang on background processes that keep the output pipes open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return runResult{}, fmt.Errorf("starting local command: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	var err error
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-waitErr:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-waitErr
		}
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	spec.Out.flush()
	res := runResult{Stdout: trimNL(spec.Out.stdout.String()), Stderr: trimNL(spec.Out.stderr.String())}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && ctx.Err() == nil {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return res, &commandError{desc: "was killed by signal " + ws.Signal().String(), out: spec.Out}
			}
			return res, &commandError{desc: fmt.Sprintf("exited with code %d", exitErr.ExitCode()), out: spec.Out}
		}
		return res, &commandError{desc: "failed: " + err.Error(), out: spec.Out}
	}
	return res, nil
}
