package core

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestPathRTTFromKernel: over TCP on Linux, window auto-tuning starts
// from the kernel's minimum RTT, and keeps it on a direct path, where the
// pings only add the hosts' wake-ups.
func TestPathRTTFromKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	c, sc := tcpPair(t)
	cli, srv := sessionPair(t, c, sc, DefaultConfig())

	for _, s := range []*Session{cli, srv} {
		_, ok := s.carrier.(*tcpCarrier)
		assert.True(t, ok, "a TCP carrier")
		rtt := s.tuningRTT()
		assert.Positive(t, rtt)
		assert.Less(t, rtt, 50*time.Millisecond, "a loopback RTT")
		assert.Positive(t, s.kernelRTT.Load())
		assert.True(t, s.pingsForRTT(), "pings too: only they see past the first hop")
	}
}

// TestOpaqueCarrier: Config.OpaqueCarrier turns the carrier seam off.
func TestOpaqueCarrier(t *testing.T) {
	c, sc := tcpPair(t)
	cfg := DefaultConfig()
	cfg.OpaqueCarrier = true
	cli, srv := sessionPair(t, c, sc, cfg)
	for _, s := range []*Session{cli, srv} {
		assert.Equal(t, opaqueCarrier{s.conn}, s.carrier)
		assert.Nil(t, s.sock, "no direct socket I/O")
		assert.Zero(t, s.kernelRTT.Load(), "no kernel RTT")
		assert.Zero(t, s.sndMSS.Load(), "no MSS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := cli.OpenStream(ctx)
	require.NoError(t, err)
	_, err = st.Write([]byte("over the plain carrier"))
	require.NoError(t, err)
	peer, err := srv.AcceptStream(ctx)
	require.NoError(t, err)
	got := make([]byte, 22)
	_, err = io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, "over the plain carrier", string(got))
	st.Close()
	peer.Close()
}

// TestTuningRTT: the pings' minimum wins over the kernel's RTT where it
// is longer by more than the hosts explain.
func TestTuningRTT(t *testing.T) {
	var s Session
	assert.Zero(t, s.tuningRTT(), "nothing known")
	s.kernelRTT.Store(int64(30 * time.Microsecond))
	assert.Equal(t, 30*time.Microsecond, s.tuningRTT(), "the kernel's first guess")
	s.pinger.min.Store(int64(300 * time.Microsecond))
	assert.Equal(t, 30*time.Microsecond, s.tuningRTT(), "the pings add only the hosts")
	s.pinger.min.Store(int64(50 * time.Millisecond))
	assert.Equal(t, 50*time.Millisecond, s.tuningRTT(), "a proxy on the way")
	s.kernelRTT.Store(0)
	s.pinger.min.Store(int64(300 * time.Microsecond))
	assert.Equal(t, 300*time.Microsecond, s.tuningRTT(), "pings alone")
}
