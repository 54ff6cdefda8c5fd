package core

import (
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type transparent struct{ net.Conn }

func (t transparent) TransparentConn() net.Conn { return t.Conn }

func TestTCPConnOf(t *testing.T) {
	tc, _ := tcpPair(t)
	got, wrappers := tcpConnOf(tc)
	assert.Same(t, tc, got)
	assert.Empty(t, wrappers)
	w := transparent{tc}
	got, wrappers = tcpConnOf(w)
	assert.Same(t, tc, got, "through a transparent wrapper")
	assert.Equal(t, []any{w}, wrappers)
	got, _ = tcpConnOf(tls.Client(tc, &tls.Config{}))
	assert.Nil(t, got, "not through crypto/tls")
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	got, _ = tcpConnOf(p1)
	assert.Nil(t, got)
}

// TestPathRTTFromKernel: over TCP on Linux, window auto-tuning uses the
// kernel's minimum RTT from the start, not the ping samples.
func TestPathRTTFromKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	c, sc := tcpPair(t)
	cli, srv := sessionPair(t, c, sc, DefaultConfig())

	for _, s := range []*Session{cli, srv} {
		rtt := s.tuningRTT()
		assert.Positive(t, rtt)
		assert.Less(t, rtt, 50*time.Millisecond, "a loopback RTT")
		assert.Equal(t, time.Duration(s.pathRTT.Load()), rtt)
		assert.False(t, s.pingsForRTT(), "no warm-up or refresh pings: the kernel tells")
	}
	assert.Equal(t, uint8(1), cli.creditShift, "over TCP, credit goes back at half the window")
	assert.Equal(t, uint8(1), srv.creditShift)
}
