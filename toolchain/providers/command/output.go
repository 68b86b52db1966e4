package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Logging modes of pulumi-command's Logging enum.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

var validLogging = map[string]bool{logStdout: true, logStderr: true, logStdoutAndStderr: true, logNone: true}

const (
	tailLines     = 30
	maxLogLineLen = 2000
)

// outputSink captures a command's stdout/stderr, streams complete lines to the engine log (per the
// logging mode) and keeps the last lines of both streams for error messages.
type outputSink struct {
	mu      sync.Mutex
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	logMode string
	log     func(line string) // info-level log (may be nil)
	warnFn  func(line string) // warning-level log (may be nil)
	redact  redactor
	tail    []string
	outLW   *lineWriter
	errLW   *lineWriter
}

func newOutputSink(logMode string, log, warn func(string), redact redactor) *outputSink {
	if logMode == "" {
		logMode = logStdoutAndStderr
	}
	s := &outputSink{logMode: logMode, log: log, warnFn: warn, redact: redact}
	s.outLW = &lineWriter{emit: func(l string) { s.line(l, logMode == logStdout || logMode == logStdoutAndStderr) }}
	s.errLW = &lineWriter{emit: func(l string) { s.line(l, logMode == logStderr || logMode == logStdoutAndStderr) }}
	return s
}

func (s *outputSink) line(l string, logIt bool) {
	l = s.redact.apply(l)
	if len(l) > maxLogLineLen {
		l = l[:maxLogLineLen] + " [...]"
	}
	s.tail = append(s.tail, l)
	if len(s.tail) > tailLines {
		s.tail = s.tail[len(s.tail)-tailLines:]
	}
	if logIt && s.log != nil {
		s.log(l)
	}
}

func (s *outputSink) warn(msg string) {
	if s.warnFn != nil {
		s.warnFn(s.redact.apply(msg))
	}
}

type sinkWriter struct {
	s   *outputSink
	buf *bytes.Buffer
	lw  *lineWriter
}

func (w sinkWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.buf.Write(p)
	_, _ = w.lw.Write(p)
	return len(p), nil
}

func (s *outputSink) stdoutWriter() io.Writer { return sinkWriter{s: s, buf: &s.stdout, lw: s.outLW} }
func (s *outputSink) stderrWriter() io.Writer { return sinkWriter{s: s, buf: &s.stderr, lw: s.errLW} }

func (s *outputSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outLW.flush()
	s.errLW.flush()
}

// tailText returns the last lines of output, or "" when logging is "none".
func (s *outputSink) tailText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logMode == logNone || len(s.tail) == 0 {
		return ""
	}
	return strings.Join(s.tail, "\n")
}

// lineWriter splits a byte stream into lines; carriage-return progress updates keep only their last
// segment.
type lineWriter struct {
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emitLine(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	// Bound memory for output without newlines.
	if len(w.buf) > 64*1024 {
		w.emitLine(string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

func (w *lineWriter) emitLine(l string) {
	l = strings.TrimRight(l, "\r")
	if i := strings.LastIndexByte(l, '\r'); i >= 0 {
		l = l[i+1:]
	}
	w.emit(l)
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emitLine(string(w.buf))
		w.buf = nil
	}
}

// commandError is a failed command; its message carries the tail of the output.
type commandError struct {
	desc    string // e.g. "exited with code 2"
	command string // display form of the command (first line, or "[secret]")
	out     *outputSink
}

func (e *commandError) Error() string {
	msg := fmt.Sprintf("command %s", e.desc)
	if e.command != "" {
		msg = fmt.Sprintf("command %q %s", e.command, e.desc)
	}
	if e.out != nil {
		if t := e.out.tailText(); t != "" {
			msg += fmt.Sprintf("\n--- last %d lines of output ---\n%s", tailLines, t)
		}
	}
	return msg
}

// displayCommand returns a short, redacted display form of a command for error messages.
func displayCommand(cmd string, secret bool, r redactor) string {
	if secret {
		return "[secret]"
	}
	first := strings.TrimSpace(cmd)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = strings.TrimSpace(first[:i]) + " ..."
	}
	if len(first) > 120 {
		first = first[:117] + "..."
	}
	return r.apply(first)
}
