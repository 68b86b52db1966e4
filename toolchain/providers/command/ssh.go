package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults of the pulumi-command 1.2.1 Connection type.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// Tunables (variables so that tests can shorten them).
var (
	dialRetryPause    = 3 * time.Second
	keepaliveInterval = 30 * time.Second
	keepaliveMaxFails = 4
	// Environment values larger than this are not sent (sshd packet and execve limits).
	maxEnvValueLen = 64 * 1024
)

// connSpec is a decoded connection (or proxy) object.
type connSpec struct {
	Host               string
	Port               int
	User               string
	Password           *string
	PrivateKey         *string
	PrivateKeyPassword *string
	AgentSocketPath    *string
	HostKey            *string
	DialErrorLimit     int
	PerDialTimeout     int
	Proxy              *connSpec
}

func (c *connSpec) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// connectionFields lists the properties of the Connection (and ProxyConnection) types.
var connectionFields = map[string]bool{
	"host": true, "port": true, "user": true, "password": true, "privateKey": true,
	"privateKeyPassword": true, "agentSocketPath": true, "dialErrorLimit": true,
	"perDialTimeout": true, "hostKey": true, "proxy": true,
}

// parseConnection decodes a (checked) connection object. It fails on unknown values.
func parseConnection(v resource.PropertyValue, isProxy bool) (*connSpec, error) {
	v = strip(v)
	if v.IsComputed() {
		return nil, errors.New("connection is not known yet")
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("connection must be an object, not %s", v.TypeString())
	}
	m := v.ObjectValue()
	c := &connSpec{}
	host, unk, err := optString(m, "host")
	if err != nil {
		return nil, err
	}
	if unk {
		return nil, errors.New("connection.host is not known yet")
	}
	if host == nil || *host == "" {
		return nil, errors.New("connection.host is required")
	}
	c.Host = *host
	port, _, err := optNumber(m, "port", defaultPort)
	if err != nil {
		return nil, err
	}
	c.Port = int(port)
	user, _, err := optString(m, "user")
	if err != nil {
		return nil, err
	}
	c.User = defaultUser
	if user != nil {
		c.User = *user
	}
	for key, dst := range map[string]**string{
		"password": &c.Password, "privateKey": &c.PrivateKey, "privateKeyPassword": &c.PrivateKeyPassword,
		"agentSocketPath": &c.AgentSocketPath, "hostKey": &c.HostKey,
	} {
		s, unk, err := optString(m, key)
		if err != nil {
			return nil, err
		}
		if unk {
			return nil, fmt.Errorf("connection.%s is not known yet", key)
		}
		*dst = s
	}
	del, _, err := optNumber(m, "dialErrorLimit", defaultDialErrorLimit)
	if err != nil {
		return nil, err
	}
	c.DialErrorLimit = int(del)
	pdt, _, err := optNumber(m, "perDialTimeout", defaultPerDialTimeout)
	if err != nil {
		return nil, err
	}
	c.PerDialTimeout = int(pdt)
	if pv, ok := m["proxy"]; ok && !strip(pv).IsNull() {
		if isProxy {
			return nil, errors.New("connection.proxy.proxy is not supported")
		}
		p, err := parseConnection(pv, true)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		c.Proxy = p
	}
	return c, nil
}

// parseHostKey accepts an authorized_keys line ("ssh-ed25519 AAAA... [comment]"), a known_hosts
// line ("host ssh-ed25519 AAAA...") or a bare base64 wire-format key.
func parseHostKey(s string) (ssh.PublicKey, error) {
	s = strings.TrimSpace(s)
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		return k, nil
	}
	if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(s)); err == nil {
		return k, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
		if k, err := ssh.ParsePublicKey(raw); err == nil {
			return k, nil
		}
	}
	return nil, errors.New(`hostKey is not a valid public key (expected "<type> <base64> [comment]")`)
}

// hostKeyMismatchError is returned when the pinned host key does not match; it is never retried.
type hostKeyMismatchError struct {
	addr, want, got string
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: expected %s, server presented %s (refusing to connect)",
		e.addr, e.want, e.got)
}

// clientConfig builds the ssh.ClientConfig. The returned closer releases an agent connection.
func (c *connSpec) clientConfig() (*ssh.ClientConfig, func(), error) {
	cfg := &ssh.ClientConfig{User: c.User}
	closer := func() {}
	if c.HostKey != nil && strings.TrimSpace(*c.HostKey) != "" {
		want, err := parseHostKey(*c.HostKey)
		if err != nil {
			return nil, closer, err
		}
		wantBytes := want.Marshal()
		cfg.HostKeyCallback = func(hostname string, remote net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), wantBytes) {
				return nil
			}
			return &hostKeyMismatchError{addr: c.addr(), want: ssh.FingerprintSHA256(want), got: ssh.FingerprintSHA256(got)}
		}
		// Negotiate the pinned key's algorithm, otherwise a server with several host keys may
		// present another one and the pin would fail spuriously.
		if want.Type() == ssh.KeyAlgoRSA {
			cfg.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		} else {
			cfg.HostKeyAlgorithms = []string{want.Type()}
		}
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // upstream semantics when hostKey is unset
	}
	if c.PrivateKey != nil && *c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil && *c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			// Never include the key material in the message.
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return nil, closer, errors.New("connection.privateKey is encrypted and no privateKeyPassword was given")
			}
			return nil, closer, errors.New("connection.privateKey could not be parsed (expected an OpenSSH/PEM private key)")
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	sock := ""
	explicitSock := false
	if c.AgentSocketPath != nil && *c.AgentSocketPath != "" {
		sock, explicitSock = *c.AgentSocketPath, true
	} else if env := os.Getenv("SSH_AUTH_SOCK"); env != "" {
		sock = env
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if explicitSock {
				return nil, closer, fmt.Errorf("cannot connect to ssh agent at %s: %w", sock, err)
			}
		} else {
			closer = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	return cfg, closer, nil
}

// sshConn is an established connection (possibly through a proxy).
type sshConn struct {
	*ssh.Client
	proxy   *ssh.Client
	closers []func()
	done    chan struct{}
	once    sync.Once
}

func (s *sshConn) Close() error {
	s.once.Do(func() { close(s.done) })
	err := s.Client.Close()
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	for _, c := range s.closers {
		c()
	}
	return err
}

// keepalive closes the connection when the server stops answering keepalive requests, so that a
// command on a dead host fails instead of hanging forever.
func (s *sshConn) keepalive() {
	t := time.NewTicker(keepaliveInterval)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		res := make(chan error, 1)
		go func() {
			_, _, err := s.SendRequest("keepalive@openssh.com", true, nil)
			res <- err
		}()
		select {
		case err := <-res:
			if err != nil {
				fails++
			} else {
				fails = 0
			}
		case <-time.After(keepaliveInterval):
			fails++
		case <-s.done:
			return
		}
		if fails >= keepaliveMaxFails {
			_ = s.Close()
			return
		}
	}
}

// dialOnce makes one connection attempt: TCP connect (directly or through an already connected
// proxy) plus SSH handshake, bounded by perDialTimeout.
func dialOnce(ctx context.Context, c *connSpec, via *ssh.Client) (*ssh.Client, []func(), error) {
	cfg, closer, err := c.clientConfig()
	if err != nil {
		return nil, nil, err
	}
	closers := []func(){closer}
	cleanup := func() {
		for _, f := range closers {
			f()
		}
	}
	timeout := time.Duration(c.PerDialTimeout) * time.Second
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var conn net.Conn
	if via != nil {
		conn, err = via.DialContext(dctx, "tcp", c.addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", c.addr())
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	// Abort the handshake when the context is cancelled.
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr(), cfg)
	stop()
	if err != nil {
		_ = conn.Close()
		cleanup()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), closers, nil
}

// dial connects with retries: up to DialErrorLimit attempts (-1 = unlimited), pausing between them.
// A host key mismatch is never retried.
func dial(ctx context.Context, c *connSpec, status func(string)) (*sshConn, error) {
	limit := c.DialErrorLimit
	if limit == 0 {
		limit = 1
	}
	var lastErr error
	for attempt := 1; limit < 0 || attempt <= limit; attempt++ {
		conn, err := dialAttempt(ctx, c)
		if err == nil {
			go conn.keepalive()
			return conn, nil
		}
		lastErr = err
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) || ctx.Err() != nil || isConfigError(err) {
			break
		}
		if limit >= 0 && attempt >= limit {
			break
		}
		if status != nil {
			of := "unlimited"
			if limit >= 0 {
				of = strconv.Itoa(limit)
			}
			status(fmt.Sprintf("ssh %s@%s: attempt %d/%s failed (%v); retrying in %s",
				c.User, c.addr(), attempt, of, err, dialRetryPause))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh %s@%s: %w", c.User, c.addr(), ctx.Err())
		case <-time.After(dialRetryPause):
		}
	}
	return nil, fmt.Errorf("ssh %s@%s: %w", c.User, c.addr(), lastErr)
}

type configError struct{ error }

func isConfigError(err error) bool {
	var ce configError
	return errors.As(err, &ce)
}

func dialAttempt(ctx context.Context, c *connSpec) (*sshConn, error) {
	// Validate the configuration first: a bad key is not worth retrying.
	if _, closer, err := c.clientConfig(); err != nil {
		return nil, configError{err}
	} else {
		closer()
	}
	if c.Proxy != nil {
		if _, closer, err := c.Proxy.clientConfig(); err != nil {
			return nil, configError{fmt.Errorf("proxy: %w", err)}
		} else {
			closer()
		}
	}
	out := &sshConn{done: make(chan struct{})}
	var via *ssh.Client
	if c.Proxy != nil {
		pc, pclosers, err := dialOnce(ctx, c.Proxy, nil)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", c.Proxy.addr(), err)
		}
		out.proxy = pc
		out.closers = append(out.closers, pclosers...)
		via = pc
	}
	client, closers, err := dialOnce(ctx, c, via)
	if err != nil {
		if out.proxy != nil {
			_ = out.proxy.Close()
		}
		for _, f := range out.closers {
			f()
		}
		return nil, err
	}
	out.Client = client
	out.closers = append(out.closers, closers...)
	return out, nil
}

// runResult is the outcome of running a command.
type runResult struct {
	Stdout, Stderr string
}

// runSpec describes one command execution.
type runSpec struct {
	Command string
	Env     map[string]string // user environment
	PrevEnv map[string]string // PULUMI_COMMAND_STDOUT/STDERR (failures to set them are ignored silently)
	Stdin   *string
	Out     *outputSink
}

// runRemote runs spec.Command over a new session of conn.
func runRemote(ctx context.Context, conn *sshConn, spec runSpec) (runResult, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return runResult{}, fmt.Errorf("opening ssh session: %w", err)
	}
	defer sess.Close()

	var rejected []string
	for _, k := range sortedKeys(spec.Env) {
		v := spec.Env[k]
		if len(v) > maxEnvValueLen {
			spec.Out.warn(fmt.Sprintf("environment variable %s not sent: value longer than %d bytes", k, maxEnvValueLen))
			continue
		}
		if err := sess.Setenv(k, v); err != nil {
			rejected = append(rejected, k)
		}
	}
	if len(rejected) > 0 {
		spec.Out.warn(fmt.Sprintf("the ssh server rejected environment variable(s) %s (add them to sshd AcceptEnv)",
			strings.Join(rejected, ", ")))
	}
	for _, k := range sortedKeys(spec.PrevEnv) {
		if v := spec.PrevEnv[k]; len(v) <= maxEnvValueLen {
			_ = sess.Setenv(k, v)
		}
	}
	if spec.Stdin != nil && *spec.Stdin != "" {
		sess.Stdin = strings.NewReader(*spec.Stdin)
	}
	sess.Stdout = spec.Out.stdoutWriter()
	sess.Stderr = spec.Out.stderrWriter()
	if err := sess.Start(spec.Command); err != nil {
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
	spec.Out.flush()
	res := runResult{Stdout: trimNL(spec.Out.stdout.String()), Stderr: trimNL(spec.Out.stderr.String())}
	if err != nil {
		var exitErr *ssh.ExitError
		var missing *ssh.ExitMissingError
		switch {
		case errors.As(err, &exitErr):
			if exitErr.Signal() != "" {
				return res, &commandError{desc: "was killed by signal " + exitErr.Signal(), out: spec.Out}
			}
			return res, &commandError{desc: fmt.Sprintf("exited with code %d", exitErr.ExitStatus()), out: spec.Out}
		case errors.As(err, &missing):
			return res, &commandError{desc: "ended without an exit status (connection lost?)", out: spec.Out}
		}
		return res, &commandError{desc: "failed: " + err.Error(), out: spec.Out}
	}
	return res, nil
}

func trimNL(s string) string { return strings.TrimSuffix(s, "\n") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var _ io.Writer = (*lineWriter)(nil)
