package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// The connection: what the lab sets (host, user, privateKey, hostKey, dialErrorLimit, perDialTimeout)
// plus port; defaults as in the pulumi-command 1.2.1 Connection type.
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
)

var connectionFields = set("host", "port", "user", "privateKey", "hostKey", "dialErrorLimit", "perDialTimeout")

// unsupportedConnectionFields exist in the SDK's Connection type but not in this build (the lab
// never sets them); Check names them instead of ignoring them.
var unsupportedConnectionFields = set("password", "privateKeyPassword", "agentSocketPath", "proxy")

// connSpec is a decoded connection object.
type connSpec struct {
	Host           string
	Port           int
	User           string
	PrivateKey     string
	HostKey        *string
	DialErrorLimit int
	PerDialTimeout int
}

func (c *connSpec) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// checkConnection validates the connection input and applies its defaults (inside its secret
// wrapper, if any), also for plain dicts, which the SDK does not default.
func checkConnection(news resource.PropertyMap, c *checker) {
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
	if inner.IsOutput() && inner.OutputValue().Known {
		secret = secret || inner.OutputValue().Secret
		inner = inner.OutputValue().Element
	}
	if isUnknown(inner) {
		return
	}
	if !inner.IsObject() {
		c.fail("connection", "connection must be an object, not "+inner.TypeString())
		return
	}
	m := inner.ObjectValue().Copy()
	for k, v := range m {
		switch {
		case unsupportedConnectionFields[string(k)] && !v.IsNull():
			c.fail("connection."+string(k), fmt.Sprintf("connection.%s is not supported by this pulumi-resource-command "+
				"build (supported: %s; see toolchain/providers/command/README.md)", k, strings.Join(slices.Sorted(maps.Keys(connectionFields)), ", ")))
		case !connectionFields[string(k)] && !unsupportedConnectionFields[string(k)]:
			c.fail("connection."+string(k), fmt.Sprintf("unknown property %q", k))
		}
	}
	for _, k := range []string{"host", "privateKey"} {
		if s, unk, err := optString(m, k); err != nil {
			c.fail("connection."+k, err.Error())
		} else if !unk && (s == nil || *s == "") {
			c.fail("connection."+k, "missing required property '"+k+"'")
		}
	}
	for k, def := range map[string]resource.PropertyValue{
		"port": resource.NewNumberProperty(defaultPort), "user": resource.NewStringProperty(defaultUser),
		"dialErrorLimit": resource.NewNumberProperty(defaultDialErrorLimit),
		"perDialTimeout": resource.NewNumberProperty(defaultPerDialTimeout),
	} {
		if cur, ok := m[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			m[resource.PropertyKey(k)] = def
		}
	}
	if _, _, err := optString(m, "user"); err != nil {
		c.fail("connection.user", err.Error())
	}
	if p, unk, err := optNumber(m, "port", defaultPort); err != nil {
		c.fail("connection.port", err.Error())
	} else if !unk && (p < 1 || p > 65535 || p != float64(int(p))) {
		c.fail("connection.port", fmt.Sprintf("port must be an integer in 1..65535 (got %v)", p))
	}
	for _, k := range []string{"dialErrorLimit", "perDialTimeout"} {
		if n, unk, err := optNumber(m, k, 0); err != nil {
			c.fail("connection."+k, err.Error())
		} else if !unk && n != float64(int(n)) {
			c.fail("connection."+k, k+" must be an integer")
		}
	}
	if hk, unk, err := optString(m, "hostKey"); err != nil {
		c.fail("connection.hostKey", err.Error())
	} else if !unk && hk != nil && strings.TrimSpace(*hk) != "" {
		if _, err := parseHostKey(*hk); err != nil {
			c.fail("connection.hostKey", err.Error())
		}
	}
	news["connection"] = withSecretness(resource.NewObjectProperty(m), secret)
}

// parseConnection decodes a checked connection object. It fails on unknown values.
func parseConnection(v resource.PropertyValue) (*connSpec, error) {
	v = strip(v)
	if !v.IsObject() {
		return nil, errors.New("connection is not known yet")
	}
	m := v.ObjectValue()
	c := &connSpec{}
	for key, dst := range map[string]*string{"host": &c.Host, "user": &c.User, "privateKey": &c.PrivateKey} {
		s, unk, err := optString(m, key)
		if err != nil || unk || s == nil {
			return nil, fmt.Errorf("connection.%s is not known yet or missing", key)
		}
		*dst = *s
	}
	hk, unk, err := optString(m, "hostKey")
	if err != nil || unk {
		return nil, errors.New("connection.hostKey is not known yet")
	}
	c.HostKey = hk
	for key, dst := range map[string]*int{"port": &c.Port, "dialErrorLimit": &c.DialErrorLimit, "perDialTimeout": &c.PerDialTimeout} {
		n, _, err := optNumber(m, key, 0)
		if err != nil {
			return nil, err
		}
		*dst = int(n)
	}
	return c, nil
}

// targetChanged reports whether the connection now points at another endpoint (host, port, user);
// changes of the key, the timeouts or hostKey alone do not count.
func targetChanged(olds, news resource.PropertyMap) bool {
	oc, nc := strip(olds["connection"]), strip(news["connection"])
	if !oc.IsObject() || !nc.IsObject() {
		return !valuesEqual(olds["connection"], news["connection"])
	}
	for _, k := range []string{"host", "port", "user"} {
		if propChanged(oc.ObjectValue(), nc.ObjectValue(), k) {
			return true
		}
	}
	return false
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

// clientConfig builds the ssh.ClientConfig: public-key authentication, the host key pinned when set.
func (c *connSpec) clientConfig() (*ssh.ClientConfig, error) {
	signer, err := ssh.ParsePrivateKey([]byte(c.PrivateKey))
	if err != nil {
		// Never include the key material in the message.
		return nil, errors.New("connection.privateKey could not be parsed (expected an unencrypted OpenSSH/PEM private key)")
	}
	cfg := &ssh.ClientConfig{User: c.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}}
	if c.HostKey == nil || strings.TrimSpace(*c.HostKey) == "" {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // upstream semantics when hostKey is unset
		return cfg, nil
	}
	want, err := parseHostKey(*c.HostKey)
	if err != nil {
		return nil, err
	}
	cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
		if bytes.Equal(got.Marshal(), want.Marshal()) {
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
	return cfg, nil
}

// sshConn is an established connection with keepalives.
type sshConn struct {
	*ssh.Client
	done chan struct{}
	once sync.Once
}

func (s *sshConn) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.Client.Close()
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

// dial connects with retries: up to DialErrorLimit attempts (-1 = unlimited), pausing between them.
// Configuration errors and a host key mismatch are never retried.
func dial(ctx context.Context, c *connSpec, status func(string)) (*sshConn, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	limit := c.DialErrorLimit
	if limit == 0 {
		limit = 1
	}
	var lastErr error
	for attempt := 1; limit < 0 || attempt <= limit; attempt++ {
		client, err := dialOnce(ctx, c, cfg)
		if err == nil {
			conn := &sshConn{Client: client, done: make(chan struct{})}
			go conn.keepalive()
			return conn, nil
		}
		lastErr = err
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) || ctx.Err() != nil || (limit >= 0 && attempt >= limit) {
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

// dialOnce makes one connection attempt: TCP connect plus SSH handshake, bounded by perDialTimeout.
func dialOnce(ctx context.Context, c *connSpec, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	timeout := time.Duration(c.PerDialTimeout) * time.Second
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr())
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Abort the handshake when the context is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr(), cfg)
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}
