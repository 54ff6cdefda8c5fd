package transport_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/mem"
	"github.com/netmux/netmux/transport/tcp"
)

// waitFor polls cond every 5 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			require.FailNow(t, "timed out waiting for "+what)
		}
	}
}

// At the handshake limit, the connection that has waited longest is
// dropped to make room, and an honest client still gets in.
func TestHandshakeLimitDropsOldest(t *testing.T) {
	ln, addr := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithMaxHandshakes(2))
	require.NoError(t, err)
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var silent []io.ReadWriteCloser
	for i := range 3 {
		c, err := (&mem.Dialer{}).Dial(ctx, addr)
		require.NoError(t, err)
		defer c.Close()
		silent = append(silent, c)
		waitFor(t, "the listener to take the connection", func() bool {
			n, dropped := sl.Handshakes()
			return n+int(dropped) == i+1
		})
	}
	_, err = silent[0].Read(make([]byte, 1))
	assert.Error(t, err, "the oldest silent connection is closed")
	n, dropped := sl.Handshakes()
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 1, dropped)

	dialed := make(chan *core.Session, 1)
	go func() {
		s, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
		assert.NoError(t, err)
		dialed <- s
	}()
	srvSess, err := sl.Accept()
	require.NoError(t, err)
	client := <-dialed
	require.NotNil(t, client)
	client.Close()
	srvSess.Close()
}

// Sessions nobody accepts are bounded: past the limit, a client's
// session is not even created until Accept makes room.
func TestPendingLimit(t *testing.T) {
	ln, addr := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithMaxPending(1))
	require.NoError(t, err)
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
	require.NoError(t, err, "one session may wait for Accept")
	defer first.Close()

	dialed := make(chan *core.Session, 1)
	go func() {
		s, err := transport.Dial(ctx, &mem.Dialer{}, addr, core.DefaultConfig())
		assert.NoError(t, err)
		dialed <- s
	}()
	waitFor(t, "the second connection's handshake", func() bool {
		n, _ := sl.Handshakes()
		return n == 1 // waiting for room in the Accept queue
	})
	select {
	case <-dialed:
		require.FailNow(t, "a second session was started with the Accept queue full")
	default:
	}
	s1, err := sl.Accept()
	require.NoError(t, err)
	defer s1.Close()
	second := <-dialed // room now: the waiting connection gets its session
	require.NotNil(t, second)
	defer second.Close()
	s2, err := sl.Accept()
	require.NoError(t, err)
	s2.Close()
}

// The hook runs before the preface; an error drops the connection.
func TestHandshakeHook(t *testing.T) {
	ln, addr := memListener(t)
	sl, err := transport.NewListener(ln, core.DefaultConfig(), transport.WithHandshake(
		func(ctx context.Context, conn io.ReadWriteCloser) error {
			var b [1]byte
			if _, err := io.ReadFull(conn, b[:]); err != nil {
				return err
			}
			if b[0] != 'k' {
				conn.Write([]byte{'n'})
				return errors.New("bad key")
			}
			_, err := conn.Write([]byte{'y'})
			return err
		}))
	require.NoError(t, err)
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	knock := func(key byte) (transport.Dialer, error) { return knockDialer{key}, nil }
	d, _ := knock('x')
	_, err = transport.Dial(ctx, d, addr, core.DefaultConfig())
	require.ErrorContains(t, err, "refused")

	d, _ = knock('k')
	client, err := transport.Dial(ctx, d, addr, core.DefaultConfig())
	require.NoError(t, err)
	defer client.Close()
	srv, err := sl.Accept()
	require.NoError(t, err)
	srv.Close()
}

// knockDialer sends one byte before the session and wants 'y' back.
type knockDialer struct{ key byte }

func (k knockDialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	c, err := (&mem.Dialer{}).Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	var b [1]byte
	if _, err = c.Write([]byte{k.key}); err == nil {
		_, err = io.ReadFull(c, b[:])
	}
	if err == nil && b[0] != 'y' {
		err = errors.New("refused")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// floodSilent opens n TCP connections to addr that send nothing and
// returns them; the caller closes them.
func floodSilent(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 { // a few dialers at a time, so the accept backlog keeps up
		wg.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if assert.NoError(t, err) {
					conns[i] = c
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return conns
}

// FloodStats are what a flood of silent connections costs a listener.
type floodStats struct {
	goroutines int    // most goroutines seen during the flood, whole process
	heap       uint64 // heap in use after the flood, bytes
	stacks     uint64 // goroutine stacks in use after the flood, bytes
}

// measureFlood runs flood while sampling the process's goroutines, and
// reads its heap once the flood is in place.
func measureFlood(flood func()) floodStats {
	var st floodStats
	stop := make(chan struct{})
	sampled := make(chan int)
	go func() {
		peak := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, runtime.NumGoroutine())
			select {
			case <-tick.C:
			case <-stop:
				sampled <- peak
				return
			}
		}
	}()
	flood()
	close(stop)
	st.goroutines = <-sampled
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.heap, st.stacks = ms.HeapInuse, ms.StackInuse
	return st
}

// 10,000 TCP connections that send nothing leave the listener's
// goroutines and heap bounded by its handshake limit (the default), and
// an honest client dialing right after gets a session within a second.
func TestSilentFloodIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	const flood = 10_000
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	defer sl.Close()
	addr := ln.Addr().String()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	base := runtime.NumGoroutine()
	var conns []net.Conn
	st := measureFlood(func() {
		conns = floodSilent(t, addr, flood)
		waitFor(t, "the listener to take every connection", func() bool {
			n, dropped := sl.Handshakes()
			return n+int(dropped) == flood
		})
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	client, err := transport.Dial(ctx, tcp.Dialer{}, addr, core.DefaultConfig())
	require.NoError(t, err)
	defer client.Close()
	srv, err := sl.Accept()
	elapsed := time.Since(start)
	require.NoError(t, err)
	srv.Close()

	n, dropped := sl.Handshakes()
	t.Logf("%d silent connections: at most %d goroutines (%d before), heap %.1f MiB (%.1f MiB before), "+
		"stacks %.1f MiB; %d in handshake, %d dropped; honest client's session in %v",
		flood, st.goroutines, base, mib(st.heap), mib(before.HeapInuse), mib(st.stacks), n, dropped,
		elapsed.Round(time.Millisecond))
	assert.Less(t, st.goroutines, base+transport.DefaultMaxHandshakes+100, "goroutines bounded by the handshake limit")
	assert.Less(t, st.heap, before.HeapInuse+64<<20, "heap bounded")
	assert.LessOrEqual(t, n, transport.DefaultMaxHandshakes)
	assert.Less(t, elapsed, time.Second, "the honest client gets in at once")
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
