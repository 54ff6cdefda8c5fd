package core

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delayProxy is a TCP proxy on loopback that holds every byte for d in
// each direction (a delayLine, autotune_internal_test.go), as an SSH
// tunnel or a TCP-terminating load balancer in front of a long path
// does: each end's TCP sees a loopback RTT, and only the two sessions see
// the path's. It proxies one connection to target and returns its
// address; everything stops at cleanup.
func delayProxy(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var closers []io.Closer
	track := func(c io.Closer) {
		mu.Lock()
		closers = append(closers, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range closers {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		a, err := ln.Accept()
		if err != nil {
			return
		}
		track(a)
		b, err := net.Dial("tcp", target)
		if err != nil {
			a.Close()
			return
		}
		track(b)
		for _, dir := range [][2]net.Conn{{a, b}, {b, a}} {
			src, dst := dir[0], dir[1]
			line := newDelayLine(d)
			track(closerFunc(line.close))
			wg.Add(2)
			go func() { // the sending side onto the line
				defer wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						line.write(buf[:n])
					}
					if err != nil {
						line.close()
						return
					}
				}
			}()
			go func() { // off the line to the receiving side
				defer wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := line.read(buf)
					if err != nil {
						dst.Close()
						return
					}
					if _, err := dst.Write(buf[:n]); err != nil {
						src.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// TestTuningRTTBehindProxy: two sessions over TCP through a proxy that
// delays each direction by 25 ms. The kernel sees only the loopback hop
// to the proxy; the RTT that tunes windows must be the sessions' 50 ms,
// and one stream's window must grow to carry the path: with the first
// hop's RTT it stays at 256 KiB (5 MiB/s over 50 ms).
func TestTuningRTTBehindProxy(t *testing.T) {
	const oneWay = 25 * time.Millisecond
	c, sc := tcpPairVia(t, func(addr string) string { return delayProxy(t, addr, oneWay) })
	cli, srv := sessionPair(t, c, sc, DefaultConfig())
	size := windowAfterBulk(t, cli, srv, 24<<20, 2*time.Minute)

	for _, s := range []*Session{cli, srv} {
		_, ok := s.carrier.(*tcpCarrier)
		require.True(t, ok, "a TCP carrier")
		assert.GreaterOrEqual(t, s.tuningRTT(), 2*oneWay, "the sessions' RTT, not the first hop's (kernel: %v)",
			time.Duration(s.kernelRTT.Load()))
	}
	// Tuned by the first hop's RTT the window never leaves 256 KiB. Tuned
	// by the sessions' 50 ms it grows fourfold while it limits; how far
	// depends on how fast this host runs the proxy (under -race the path
	// shows full at a few MiB, and the session's bound may then take a
	// window back below 4 MiB), so ask for one fourfold step.
	assert.GreaterOrEqual(t, size, uint32(4*initialCredit), "window after 24 MiB over a 50 ms round trip")
}
