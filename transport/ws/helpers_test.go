package ws_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/ws"
)

// testCert returns a self-signed ECDSA P-256 certificate for localhost
// and 127.0.0.1, as a server config and a client config that trusts it.
func testCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}
}

// listen starts a Listener on 127.0.0.1:0, closed when the test ends.
func listen(t testing.TB, opts ...ws.Option) *ws.Listener {
	t.Helper()
	ln, err := ws.Listen("127.0.0.1:0", opts...)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialAccept dials the listener's URL with d and accepts the connection
// on the other side; both are closed (concurrently, so that their close
// handshakes meet) when the test ends.
func dialAccept(t testing.TB, ln interface {
	Accept() (io.ReadWriteCloser, error)
}, url string, d ws.Dialer) (client, server *ws.Conn) {
	t.Helper()
	type result struct {
		c   io.ReadWriteCloser
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c1, err := d.Dial(ctx, url)
	require.NoError(t, err)
	r := <-accepted
	if r.err != nil {
		c1.Close()
		require.NoError(t, r.err)
	}
	t.Cleanup(func() { closeBoth(c1, r.c) })
	return c1.(*ws.Conn), r.c.(*ws.Conn)
}

// closeBoth closes the connections concurrently and waits.
func closeBoth(cs ...io.Closer) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}
