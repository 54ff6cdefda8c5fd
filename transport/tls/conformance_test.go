package tls_test

import (
	"context"
	stdtls "crypto/tls"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/conformance"
	nmtls "github.com/netmux/netmux/transport/tls"
)

// handshakePair dials and accepts one TLS connection over 127.0.0.1:0
// with the given configs and completes the handshake on both ends before
// it returns: c1 is the client end, c2 the server end. Both are closed
// when the test ends.
func handshakePair(t testing.TB, server, client *stdtls.Config) (c1, c2 *stdtls.Conn) {
	t.Helper()
	ln, err := nmtls.Listen("127.0.0.1:0", server)
	require.NoError(t, err)
	defer ln.Close() // accepted connections outlive the listener

	type accepted struct {
		c   *stdtls.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		rwc, err := ln.Accept()
		if err != nil {
			ch <- accepted{nil, err}
			return
		}
		c := rwc.(*stdtls.Conn)
		if err := c.HandshakeContext(context.Background()); err != nil {
			c.Close()
			ch <- accepted{nil, err}
			return
		}
		ch <- accepted{c, nil}
	}()
	rwc, err := nmtls.Dialer{Config: client}.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		ln.Close() // unblocks Accept
		<-ch
		require.NoError(t, err)
	}
	c1 = rwc.(*stdtls.Conn)
	t.Cleanup(func() { c1.Close() })
	a := <-ch
	require.NoError(t, a.err)
	t.Cleanup(func() { a.c.Close() })
	return c1, a.c
}

func pipe(t testing.TB) (c1, c2 io.ReadWriteCloser) {
	p := sharedPKI(t)
	return handshakePair(t, p.serverConfig(), p.clientConfig())
}

func TestConformance(t *testing.T) {
	t.Run("ClientFirst", func(t *testing.T) { conformance.Run(t, pipe) })
	t.Run("ServerFirst", func(t *testing.T) {
		swapped := func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
			c1, c2 := pipe(t)
			return c2, c1
		}
		if testing.Short() {
			// -short: the attack checks do not depend on which end
			// dialed; the first run covers them.
			t.Run("Transport", func(t *testing.T) { conformance.RunTransport(t, swapped) })
			t.Run("Mux", func(t *testing.T) { conformance.RunMux(t, swapped) })
			return
		}
		conformance.Run(t, swapped)
	})
}
