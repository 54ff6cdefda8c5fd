package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitMatch polls buf until re matches n times, and returns the
// submatches of the last match. It fails the test at the deadline.
func waitMatch(t testing.TB, buf *syncBuffer, re *regexp.Regexp, n int, timeout time.Duration) []string {
	t.Helper()
	var m [][]string
	ok := poll(timeout, func() bool {
		m = re.FindAllStringSubmatch(buf.String(), -1)
		return len(m) >= n
	})
	require.True(t, ok, "waited %v for %d × %q; log:\n%s", timeout, n, re, buf.String())
	return m[n-1]
}

// poll calls cond every 10 ms until it returns true (true) or timeout
// passes (false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
}

var (
	listeningRE = regexp.MustCompile(`msg=listening url=(\S+)`)
	publicRE    = regexp.MustCompile(`msg="public port" name=(\S+) addr=(\S+)`)
	localRE     = regexp.MustCompile(`msg="local forward" listen=(\S+)`)
	readyRE     = regexp.MustCompile(`msg="reverse tunnels ready"`)
	endedRE     = regexp.MustCompile(`msg="session ended"`)
	stoppedRE   = regexp.MustCompile(`msg=stopped`)
)

// command runs run() in a goroutine, as the binary's main would, with its
// own context standing in for SIGINT/SIGTERM.
type command struct {
	stderr *syncBuffer
	stdout *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

func startCommand(t testing.TB, stdin string, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{stderr: &syncBuffer{}, stdout: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { c.done <- run(ctx, args, strings.NewReader(stdin), c.stdout, c.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Errorf("netmux %s did not stop; log:\n%s", strings.Join(args, " "), c.stderr)
		}
	})
	return c
}

// stop cancels the command's context (a SIGTERM) and returns its exit code.
func (c *command) stop(t testing.TB) int {
	t.Helper()
	c.cancel()
	return c.wait(t)
}

func (c *command) wait(t testing.TB) int {
	t.Helper()
	select {
	case code := <-c.done:
		c.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("command did not exit; log:\n%s", c.stderr)
		return -1
	}
}

// freePort returns a port on 127.0.0.1 that was free a moment ago, for
// network "tcp" or "udp".
func freePort(t testing.TB, network string) string {
	t.Helper()
	var addr string
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		addr = c.LocalAddr().String()
		c.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr = l.Addr().String()
		l.Close()
	}
	return addr
}

// testPKI is a CA with a server certificate (127.0.0.1, localhost) and a
// client certificate, written as PEM files.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey string // file names
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netmux test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		f := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return f
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (cert, key string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "netmux test " + name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return write(name+".pem", "CERTIFICATE", der), write(name+".key", "PRIVATE KEY", kder)
	}
	p := &testPKI{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// serverFlags and clientFlags are the TLS flags for scheme: mutual TLS
// with the test CA for tls, a generated certificate for wss, server
// authentication with the test CA for quic.
func (p *testPKI) serverFlags(scheme string) []string {
	switch scheme {
	case "tls":
		return []string{"--cert", p.serverCert, "--key", p.serverKey, "--client-ca", p.ca}
	case "wss":
		return []string{"--insecure-generate"}
	case "quic":
		return []string{"--cert", p.serverCert, "--key", p.serverKey}
	}
	return nil
}

func (p *testPKI) clientFlags(scheme string) []string {
	switch scheme {
	case "tls":
		return []string{"--ca", p.ca, "--client-cert", p.clientCert, "--client-key", p.clientKey}
	case "wss":
		return []string{"--insecure"}
	case "quic":
		return []string{"--ca", p.ca}
	}
	return nil
}
