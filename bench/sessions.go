package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
)

// ---- sessions: many idle session pairs in one process ----

var sessionsScenario = scenario{
	Name: "sessions",
	Desc: "session_pairs idle session pairs over loopback TCP in this process, established by session_dialers dialers at once; " +
		"HeapInuse+StackInuse delta after GC and goroutine delta per session end (2 x session_pairs ends), and pairs established per second",
	Metrics: []metric{
		{Key: "kib_per_end", Label: "heap+stack KiB/end", Lower: true},
		{Key: "goroutines_per_end", Label: "goroutines/end", Lower: true},
		{Key: "sessions_per_sec", Label: "pairs/s"},
		{Key: "pairs", Label: "pairs held"},
	},
	optIn:  true,
	takes:  func(m mux) bool { _, ok := pairSourceOf(m); return ok },
	runMux: runSessions,
}

// pairSource makes many session pairs over one listener.
type pairSource struct {
	dial   func(ctx context.Context) (io.Closer, error) // a new client end
	accept func() (io.Closer, error)                    // the next server end
	close  func() error                                 // the listener, after every session is closed
}

// pairSourceOf returns how to make many pairs of m: netmux over TCP,
// yamux and smux (each with its default configuration, as in the other
// scenarios).
func pairSourceOf(m mux) (func() (pairSource, error), bool) {
	switch m := m.(type) {
	case netmuxMux:
		return netmuxPairs, m.carrier == "tcp"
	case yamuxMux:
		return func() (pairSource, error) {
			cfg := yamuxConfig(0)
			return netPairs(
				func(c net.Conn) (io.Closer, error) { return yamux.Client(c, cfg) },
				func(c net.Conn) (io.Closer, error) { return yamux.Server(c, cfg) })
		}, true
	case smuxMux:
		return func() (pairSource, error) {
			cfg := smux.DefaultConfig()
			cfg.Version = m.version
			return netPairs(
				func(c net.Conn) (io.Closer, error) { return smux.Client(c, cfg) },
				func(c net.Conn) (io.Closer, error) { return smux.Server(c, cfg) })
		}, true
	}
	return nil, false
}

// netmuxPairs: transport.Dial (which waits for the server's answer to a
// ping) and a SessionListener over the tcp adapter, as a user would.
func netmuxPairs() (pairSource, error) {
	ln, err := tcp.Listen(loopback)
	if err != nil {
		return pairSource{}, err
	}
	cfg := core.DefaultConfig()
	sl, err := transport.NewListener(ln, cfg)
	if err != nil {
		ln.Close()
		return pairSource{}, err
	}
	addr := sl.Addr().String()
	return pairSource{
		dial: func(ctx context.Context) (io.Closer, error) {
			return closer(transport.Dial(ctx, tcp.Dialer{}, addr, cfg))
		},
		accept: func() (io.Closer, error) { return closer(sl.Accept()) },
		close:  sl.Close,
	}, nil
}

// closer returns c as an io.Closer, or a nil interface when err is set.
func closer[T io.Closer](c T, err error) (io.Closer, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// netPairs wraps each end of plain TCP connections in a session.
func netPairs(client, server func(net.Conn) (io.Closer, error)) (pairSource, error) {
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return pairSource{}, err
	}
	addr := ln.Addr().String()
	wrap := func(c net.Conn, f func(net.Conn) (io.Closer, error)) (io.Closer, error) {
		s, err := f(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		return s, nil
	}
	return pairSource{
		dial: func(ctx context.Context) (io.Closer, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return wrap(c, client)
		},
		accept: func() (io.Closer, error) {
			c, err := ln.Accept()
			if err != nil {
				return nil, err
			}
			return wrap(c, server)
		},
		close: ln.Close,
	}, nil
}

// raiseFileLimit raises this process's open-file limit towards need
// (the hard limit too where it may: as root with CAP_SYS_RESOURCE) and
// returns the limit it got.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := syscall.Rlimit{Cur: need, Max: max(lim.Max, need)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return need, nil
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// filesSpare is the open files a sessions run leaves for everything else.
const filesSpare = 64

var fewerOnce sync.Once

// pairsWithin is how many of n pairs fit in the open-file limit, both
// ends' sockets in this process; it says so on stderr when fewer than n.
func pairsWithin(n int) (int, error) {
	lim, err := raiseFileLimit(uint64(2*n + filesSpare))
	if err != nil {
		return 0, fmt.Errorf("open-file limit: %w", err)
	}
	fit := int(max(lim, filesSpare)-filesSpare) / 2
	if fit < n {
		fewerOnce.Do(func() {
			fmt.Fprintf(os.Stderr, "sessions: %d pairs, not %d: the open-file limit is %d and this process may not raise it\n", fit, n, lim)
		})
		return fit, nil
	}
	return n, nil
}

// memInUse returns HeapInuse + StackInuse after two collections (the
// second clears what sync.Pools kept through the first).
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// runSessions establishes p.SessionPairs pairs of m (p.SessionDialers
// dialing at once), leaves them idle for p.SessionsSettle and measures
// what they hold; then closes them all.
func runSessions(m mux, p params) (map[string]float64, error) {
	newSource, ok := pairSourceOf(m)
	if !ok {
		return nil, fmt.Errorf("%s cannot run sessions", m.name())
	}
	n, err := pairsWithin(p.SessionPairs)
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, errors.New("no room for a session pair under the open-file limit")
	}
	mem0, g0 := memInUse(), runtime.NumGoroutine()
	src, err := newSource()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.RunTimeout)
	defer cancel()

	var e errs
	clients := make([]io.Closer, n)
	servers := make([]io.Closer, 0, n)
	var srvMu sync.Mutex // servers is appended to by the accepting goroutine
	accepted := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(accepted)
		for i := range n {
			s, err := src.accept()
			if err != nil {
				e.setf("accept session %d: %w", i, err)
				return
			}
			srvMu.Lock()
			servers = append(servers, s)
			srvMu.Unlock()
		}
	}()
	var next atomic.Int64
	var dialers sync.WaitGroup
	for range max(p.SessionDialers, 1) {
		dialers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || e.get() != nil {
					return
				}
				c, err := src.dial(ctx)
				if err != nil {
					e.setf("dial session %d: %w", i, err)
					return
				}
				clients[i] = c
			}
		})
	}
	dialers.Wait()
	var elapsed time.Duration
	if e.get() == nil {
		select {
		case <-accepted:
			elapsed = time.Since(t0)
		case <-ctx.Done():
			e.setf("%d sessions accepted in %v, want %d", len(servers), p.RunTimeout, n)
		}
	}

	var out map[string]float64
	if e.get() == nil {
		time.Sleep(p.SessionsSettle) // idle time is what is measured
		mem1, g1 := memInUse(), runtime.NumGoroutine()
		ends := float64(2 * n)
		out = map[string]float64{
			"kib_per_end":        float64(int64(mem1)-int64(mem0)) / ends / 1024,
			"goroutines_per_end": float64(g1-g0) / ends,
			"sessions_per_sec":   perSec(int64(n), elapsed),
			"pairs":              float64(n),
		}
	}

	// Close every session, both ends of a pair at once (a graceful close
	// may wait for the peer), then the listener.
	src.close()
	<-accepted
	srvMu.Lock()
	var closers []io.Closer
	for i, c := range clients {
		if c != nil {
			closers = append(closers, c)
		}
		if i < len(servers) {
			closers = append(closers, servers[i])
		}
	}
	srvMu.Unlock()
	work := make(chan io.Closer)
	var closing sync.WaitGroup
	for range 64 {
		closing.Go(func() {
			for c := range work {
				c.Close()
			}
		})
	}
	for _, c := range closers {
		work <- c
	}
	close(work)
	closing.Wait()
	if err := e.get(); err != nil {
		return nil, err
	}
	return out, nil
}
