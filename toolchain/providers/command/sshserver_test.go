package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// testSSHServer is an in-process SSH server on 127.0.0.1 that runs exec requests with /bin/sh and
// serves the sftp subsystem. It counts connections and exec requests.
type testSSHServer struct {
	addr       string
	port       int
	hostKey    ssh.PublicKey // the server's host key
	clientPEM  string        // private key accepted for the test user
	password   string
	acceptEnv  func(name string) bool
	failFirst  atomic.Int32 // drop this many connections right after accept
	conns      atomic.Int32
	execs      atomic.Int32
	forwards   atomic.Int32
	ln         net.Listener
	mu         sync.Mutex
	lastEnv    []string
	lastStdinN int
}

func newKeyPair(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func newTestSSHServer(t *testing.T) *testSSHServer {
	t.Helper()
	hostSigner, _ := newKeyPair(t)
	clientSigner, clientPEM := newKeyPair(t)
	s := &testSSHServer{
		hostKey:   hostSigner.PublicKey(),
		clientPEM: clientPEM,
		password:  "correct-horse-battery",
		acceptEnv: func(string) bool { return true },
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == s.password {
				return nil, nil
			}
			return nil, errors.New("bad password")
		},
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if n := s.conns.Add(1); n <= s.failFirst.Load() {
				_ = conn.Close()
				continue
			}
			go s.handle(conn, cfg)
		}
	}()
	return s
}

func (s *testSSHServer) handle(conn net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() == "direct-tcpip" {
			s.forward(nc)
			continue
		}
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

func (s *testSSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) != nil || !s.acceptEnv(kv.Name) {
				_ = req.Reply(false, nil)
				continue
			}
			env = append(env, kv.Name+"="+kv.Value)
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			s.execs.Add(1)
			s.mu.Lock()
			s.lastEnv = env
			s.mu.Unlock()
			go func(command string, env []string) {
				cmd := exec.Command("/bin/sh", "-c", command)
				cmd.Env = env
				cmd.Stdin = ch
				cmd.Stdout = ch
				cmd.Stderr = ch.Stderr()
				code := 0
				if err := cmd.Run(); err != nil {
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
							code = 128 + int(ws.Signal())
						} else {
							code = ee.ExitCode()
						}
					} else {
						code = 127
					}
				}
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				_ = ch.Close()
			}(p.Command, env)
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			go func() {
				srv, err := sftp.NewServer(ch)
				if err == nil {
					if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
						_ = err
					}
				}
				_ = ch.Close()
			}()
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

// forward serves a direct-tcpip channel (jump host use), to 127.0.0.1 only.
func (s *testSSHServer) forward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(nc.ExtraData(), &p) != nil || p.Host != "127.0.0.1" {
		_ = nc.Reject(ssh.Prohibited, "only 127.0.0.1")
		return
	}
	s.forwards.Add(1)
	target, err := net.Dial("tcp", net.JoinHostPort(p.Host, fmt.Sprint(p.Port)))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = target.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { _, _ = io.Copy(ch, target); _ = ch.CloseWrite() }()
	go func() { _, _ = io.Copy(target, ch); _ = target.Close() }()
}

func (s *testSSHServer) env() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lastEnv...)
}

func (s *testSSHServer) hostKeyLine() string {
	return string(ssh.MarshalAuthorizedKey(s.hostKey))
}
