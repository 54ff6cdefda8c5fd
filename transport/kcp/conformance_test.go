package kcp_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/kcp"
	"github.com/stretchr/testify/require"
)

// pipe returns an established KCP pair on 127.0.0.1, each pair on a
// listener of its own, closed by t.Cleanup. The client writes one byte
// and the server reads it: a KCP listener only sees a session once bytes
// arrive. The byte is consumed, so the pair is a clean byte stream.
func pipe(t testing.TB, opts kcp.Options) (c1, c2 io.ReadWriteCloser) {
	t.Helper()
	ln, err := kcp.Listen("127.0.0.1:0", opts)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	c1, err = kcp.Dialer{Options: opts}.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c1.Close() })
	_, err = c1.Write([]byte{0x5a})
	require.NoError(t, err)
	c2, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { c2.Close() })
	var b [1]byte
	_, err = io.ReadFull(c2, b[:])
	require.NoError(t, err)
	require.Equal(t, byte(0x5a), b[0])
	return c1, c2
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
		return pipe(t, kcp.Options{})
	},
		conformance.WithoutCloseNotification("KCP has no FIN: the peer never learns of a Close"),
		conformance.IgnoreGoroutines(kcpSched, kcpPrepend),
		// Only the keepalive notices a peer that vanished (AbruptClose
		// cuts one end): detect it in seconds, not the default 45 s.
		conformance.WithConfig(func(c *core.Config) {
			c.KeepAliveInterval = time.Second
			c.KeepAliveTimeout = 3 * time.Second
		}),
		conformance.WithScale(4),
	)
}
