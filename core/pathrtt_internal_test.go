package core

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type transparent struct{ net.Conn }

func (t transparent) TransparentConn() net.Conn { return t.Conn }

// tcpPair returns both ends of a loopback TCP connection, closed at
// cleanup.
func tcpPair(t *testing.T) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	sc, ok := <-got
	require.True(t, ok)
	t.Cleanup(func() { sc.Close() })
	return c.(*net.TCPConn), sc.(*net.TCPConn)
}

func TestTCPConnOf(t *testing.T) {
	tc, _ := tcpPair(t)
	assert.Same(t, tc, tcpConnOf(tc))
	assert.Same(t, tc, tcpConnOf(transparent{tc}), "through a transparent wrapper")
	assert.Nil(t, tcpConnOf(tls.Client(tc, &tls.Config{})), "not through crypto/tls")
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	assert.Nil(t, tcpConnOf(p1))
}

// TestPathRTTFromKernel: over TCP on Linux, window auto-tuning uses the
// kernel's minimum RTT from the start, not the ping samples.
func TestPathRTTFromKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	c, sc := tcpPair(t)
	cli, err := Client(c, DefaultConfig())
	require.NoError(t, err)
	defer cli.Close()
	srv, err := Server(sc, DefaultConfig())
	require.NoError(t, err)
	defer srv.Close()

	for _, s := range []*Session{cli, srv} {
		rtt := s.tuningRTT()
		assert.Positive(t, rtt)
		assert.Less(t, rtt, 50*time.Millisecond, "a loopback RTT")
		assert.Equal(t, time.Duration(s.pathRTT.Load()), rtt)
		assert.False(t, s.pingsForRTT(), "no warm-up or refresh pings: the kernel tells")
	}
	st, err := cli.OpenStream(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint8(1), st.rw.returnShift, "over TCP, credit goes back at half the window")
}
