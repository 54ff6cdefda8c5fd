package core

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delayLine is one direction of a link with a fixed propagation delay and
// no bandwidth limit: bytes written become readable d later.
type delayLine struct {
	d      time.Duration
	mu     sync.Mutex
	cond   *sync.Cond
	q      []delayed
	closed bool
}

type delayed struct {
	due time.Time
	b   []byte
}

func newDelayLine(d time.Duration) *delayLine {
	l := &delayLine{d: d}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *delayLine) write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, io.ErrClosedPipe
	}
	l.q = append(l.q, delayed{due: time.Now().Add(l.d), b: append([]byte(nil), b...)})
	l.cond.Broadcast()
	return len(b), nil
}

func (l *delayLine) read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for len(l.q) == 0 && !l.closed {
			l.cond.Wait()
		}
		if l.closed {
			return 0, io.EOF
		}
		wait := time.Until(l.q[0].due)
		if wait <= 0 {
			break
		}
		// The link's propagation delay (not synchronisation): the head
		// chunk is still on the wire.
		l.mu.Unlock()
		time.Sleep(wait)
		l.mu.Lock()
	}
	n := copy(p, l.q[0].b)
	if l.q[0].b = l.q[0].b[n:]; len(l.q[0].b) == 0 {
		l.q = l.q[1:]
	}
	return n, nil
}

func (l *delayLine) close() {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

type delayConn struct{ in, out *delayLine }

func (c delayConn) Read(p []byte) (int, error)  { return c.in.read(p) }
func (c delayConn) Write(p []byte) (int, error) { return c.out.write(p) }
func (c delayConn) Close() error {
	c.in.close()
	c.out.close()
	return nil
}

// windowAfterBulk sends total bytes over one stream from cli to srv and
// returns the receiving stream's window once all of it has been read.
func windowAfterBulk(t *testing.T, cli, srv *Session, total int, timeout time.Duration) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := cli.OpenStream(ctx)
	require.NoError(t, err)
	defer st.Close()
	written := make(chan error, 1)
	go func() {
		_, err := st.Write(make([]byte, total))
		written <- err
	}()
	peer, err := srv.AcceptStream(ctx)
	require.NoError(t, err)
	defer peer.Close()
	_, err = io.ReadFull(peer, make([]byte, total))
	require.NoError(t, err)
	require.NoError(t, <-written)
	peer.mu.Lock()
	defer peer.mu.Unlock()
	return peer.rw.size
}

// TestWindowGrowsOnLongPath: on a path whose round trip is long next to
// the time a window takes to send, the window is what holds a stream
// back, and auto-tuning must grow it.
func TestWindowGrowsOnLongPath(t *testing.T) {
	ab, ba := newDelayLine(10*time.Millisecond), newDelayLine(10*time.Millisecond)
	cfg := DefaultConfig()
	cli, srv := sessionPair(t, delayConn{in: ba, out: ab}, delayConn{in: ab, out: ba}, cfg)

	size := windowAfterBulk(t, cli, srv, 16<<20, time.Minute)
	// 256 KiB per 20 ms round trip is 12.5 MiB/s; 16 MiB needs a window
	// several times that to finish in a few round trips. The delay lines
	// have no rate of their own, so the path is as fast as the hosts move
	// bytes: once the session's rate stops growing the window is bounded
	// by 1.37 times what that rate carries per round trip (budget), which
	// under the race detector, on a loaded 2-core host, was 1.5 to 2 MiB.
	// At least one fourfold step it always takes.
	assert.GreaterOrEqual(t, size, uint32(4*cfg.InitialStreamWindow), "window after 16 MiB over a 20 ms round trip")
	assert.LessOrEqual(t, size, cfg.MaxStreamWindow)
}
