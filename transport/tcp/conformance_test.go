package tcp_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/transport/tcp"
)

// pipe dials and accepts one connection over 127.0.0.1:0: c1 is the
// dialed end, c2 the accepted one.
func pipe(t testing.TB) (c1, c2 io.ReadWriteCloser) {
	t.Helper()
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close() // accepted connections outlive the listener

	type accepted struct {
		c   io.ReadWriteCloser
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	c1, err = tcp.Dialer{}.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		ln.Close() // unblocks Accept
		<-ch
		require.NoError(t, err)
	}
	t.Cleanup(func() { c1.Close() })
	a := <-ch
	require.NoError(t, a.err)
	t.Cleanup(func() { a.c.Close() })
	return c1, a.c
}

func TestConformance(t *testing.T) {
	t.Run("DialerFirst", func(t *testing.T) { conformance.Run(t, pipe) })
	t.Run("AcceptorFirst", func(t *testing.T) {
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
