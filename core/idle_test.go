package core_test

import (
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idleGoroutines is how many goroutines an idle session runs: the reader
// and the writer. Keepalive runs on a timer.
const idleGoroutines = 2

// inUse returns the heap and stacks in use after the garbage collector
// has run twice (the second run empties what sync.Pools kept through the
// first).
func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// tcpSessionPairs starts n client/server session pairs over loopback TCP
// and pings each way, so that each end has read its peer's preface and
// is idle. They are closed at cleanup.
func tcpSessionPairs(t *testing.T, n int) (clients, servers []*core.Session) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	t.Cleanup(func() {
		for i := range clients {
			clients[i].Close()
			servers[i].Close()
		}
	})
	cfg := core.DefaultConfig()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		sc, err := ln.Accept()
		if err != nil {
			c.Close()
			require.NoError(t, err)
		}
		cs, err := core.Client(c, cfg)
		require.NoError(t, err)
		ss, err := core.Server(sc, cfg)
		require.NoError(t, err)
		clients, servers = append(clients, cs), append(servers, ss)
	}
	pingAll(t, clients, servers)
	return clients, servers
}

// pingAll pings each way on every pair: each end has then read what its
// peer sent before.
func pingAll(t *testing.T, clients, servers []*core.Session) {
	t.Helper()
	ctx := ctxT(t)
	for i := range clients {
		_, err := clients[i].Ping(ctx)
		require.NoError(t, err)
		_, err = servers[i].Ping(ctx)
		require.NoError(t, err)
	}
}

// perEnd returns what n session pairs added to in-use memory since mem0,
// per session end.
func perEnd(mem0 uint64, n int) float64 {
	return (float64(inUse()) - float64(mem0)) / float64(2*n)
}

// TestIdleSessionMemory: an idle session holds no large buffer, neither
// fresh nor after it carried a stream in each direction: buffers are
// taken for work and given back. Measured through runtime.MemStats over
// many sessions, so that everything a session holds counts.
func TestIdleSessionMemory(t *testing.T) {
	const pairs = 200
	mem0 := inUse()
	clients, servers := tcpSessionPairs(t, pairs)
	fresh := perEnd(mem0, pairs)
	t.Logf("idle session, fresh: %.1f KiB per end", fresh/1024)
	assert.LessOrEqual(t, fresh, float64(idleSessionBound), "heap+stack bytes per idle session end")

	// Each pair carries a stream each way, large enough for the reader to
	// share its chunk with the stream and the writer to fill a batch,
	// then goes idle again.
	payload := randBytes(17, 160<<10)
	got := make([]byte, len(payload))
	ctx := ctxT(t)
	for i := range clients {
		for _, ends := range [][2]*core.Session{{clients[i], servers[i]}, {servers[i], clients[i]}} {
			st, err := ends[0].OpenStream(ctx)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				_, err := st.Write(payload)
				if err == nil {
					err = st.Close()
				}
				done <- err
			}()
			peer, err := ends[1].AcceptStream(ctx)
			require.NoError(t, err)
			_, err = io.ReadFull(peer, got)
			require.NoError(t, err)
			_, err = peer.Read(got[:1])
			require.ErrorIs(t, err, io.EOF)
			require.NoError(t, <-done)
			requireEqualBytes(t, payload, got)
			require.NoError(t, peer.Close())
		}
	}
	payload, got = nil, nil
	pingAll(t, clients, servers)
	require.Eventually(t, func() bool { // streams are forgotten once both FINs crossed
		for i := range clients {
			if clients[i].NumStreams()+servers[i].NumStreams() > 0 {
				return false
			}
		}
		return true
	}, testTimeout, 10e6)
	used := perEnd(mem0, pairs)
	t.Logf("idle session, after a stream each way: %.1f KiB per end", used/1024)
	assert.LessOrEqual(t, used, float64(idleSessionBound), "heap+stack bytes per session end idle again")
}

// TestIdleSessionGoroutines: an idle session runs the reader and the
// writer, keepalive included (it runs on a timer), and nothing per
// stream.
func TestIdleSessionGoroutines(t *testing.T) {
	const pairs = 50
	g0 := runtime.NumGoroutine()
	var clients, servers []*core.Session
	t.Cleanup(func() {
		for i := range clients {
			clients[i].Close()
			servers[i].Close()
		}
	})
	cfg := core.DefaultConfig()
	require.Positive(t, cfg.KeepAliveInterval, "keepalive is on")
	for range pairs {
		c1, c2 := mem.Pipe()
		cs, err := core.Client(c1, cfg)
		require.NoError(t, err)
		ss, err := core.Server(c2, cfg)
		require.NoError(t, err)
		clients, servers = append(clients, cs), append(servers, ss)
	}
	pingAll(t, clients, servers)
	assert.LessOrEqual(t, runtime.NumGoroutine()-g0, idleGoroutines*2*pairs, "goroutines for %d idle session ends", 2*pairs)

	// Streams open on every session, idle too: still nothing per stream.
	var streams []*core.Stream
	for i := range clients {
		for range 4 {
			st, peer := streamPair(t, clients[i], servers[i])
			streams = append(streams, st, peer)
		}
	}
	pingAll(t, clients, servers)
	assert.LessOrEqual(t, runtime.NumGoroutine()-g0, idleGoroutines*2*pairs, "goroutines with %d open streams", len(streams))
	for _, st := range streams {
		require.NoError(t, st.Close())
	}
}
