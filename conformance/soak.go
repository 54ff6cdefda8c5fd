package conformance

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Soak churns streams over one session pair for d: workers on both sides
// open streams with random sizes and end each one at random (complete echo
// verified by checksum, reset with a random code, a deadline that fires,
// or a half-close), while the other side echoes. At the end every stream
// is forgotten on both sides, and goroutines and the live heap are back to
// their baseline. It is skipped with -short.
func Soak(t *testing.T, mp MakePipe, d time.Duration) {
	if testing.Short() {
		t.Skip("soak runs only without -short")
	}
	ign := goleak.IgnoreCurrent()
	baseHeap := liveHeap()
	c1, c2 := mp(t)
	cfg := core.DefaultConfig()
	cfg.StreamCloseTimeout = time.Second
	cfg.OpenTimeout = 10 * time.Second
	// A stream in eight is reset straight after it opens, on purpose,
	// often before the peer accepted it: on a fast carrier that is more
	// than the default limit of a Rapid Reset attacker's rate.
	cfg.RapidResetLimit = 1 << 20
	client, err := core.Client(c1, cfg)
	require.NoError(t, err)
	server, err := core.Server(c2, cfg)
	require.NoError(t, err)

	var completed, reset, timedOut, halfClosed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for side, pair := range [][2]*core.Session{{client, server}, {server, client}} {
		opener, acceptor := pair[0], pair[1]
		wg.Go(func() { soakAcceptor(acceptor) })
		for w := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), uint64(side)))
				for ctx.Err() == nil {
					soakStream(t, opener, r, &completed, &reset, &timedOut, &halfClosed)
				}
			})
		}
	}
	<-ctx.Done()
	// Workers stop after their current stream; acceptors after Close.
	require.Eventually(t, func() bool { return client.NumStreams() == 0 && server.NumStreams() == 0 },
		30*time.Second, 10*time.Millisecond, "every stream is forgotten (client %d, server %d)",
		client.NumStreams(), server.NumStreams())
	t.Logf("soak %v: %d completed and verified, %d reset, %d timed out, %d half-closed",
		d, completed.Load(), reset.Load(), timedOut.Load(), halfClosed.Load())
	assert.Positive(t, completed.Load())
	require.NoError(t, client.Close())
	require.NoError(t, server.Close())
	wg.Wait()
	goleak.VerifyNone(t, ign)
	assert.Less(t, int64(liveHeap())-int64(baseHeap), int64(16<<20), "the heap is back to baseline")
}

func soakAcceptor(s *core.Session) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := s.AcceptStream(context.Background())
		if err != nil {
			return
		}
		wg.Go(func() {
			defer st.Close()
			if _, err := io.Copy(st, st); err == nil {
				st.CloseWrite()
			}
		})
	}
}

func soakStream(t *testing.T, s *core.Session, r *rand.Rand, completed, reset, timedOut, halfClosed *atomic.Int64) {
	st, err := s.OpenStream(context.Background())
	if err != nil {
		if errors.Is(err, core.ErrStreamLimit) {
			return
		}
		assert.NoError(t, err)
		return
	}
	defer st.Close()
	data := randomBytes(r.Uint64(), r.IntN(256<<10))
	switch r.IntN(8) {
	case 0: // reset part-way
		go st.Write(data)
		st.Reset(core.ErrorCode(0x100 + r.IntN(100)))
		reset.Add(1)
	case 1: // a deadline that fires while waiting for an echo never sent
		st.SetReadDeadline(time.Now().Add(time.Duration(r.IntN(5)) * time.Millisecond))
		if _, err := st.Read(make([]byte, 1)); err != nil {
			timedOut.Add(1)
		}
		st.Reset(core.CodeCancel)
	case 2: // half-close without writing: the echo is empty
		st.CloseWrite()
		got, err := io.ReadAll(st)
		if assert.NoError(t, err) {
			assert.Empty(t, got)
		}
		halfClosed.Add(1)
	default: // full echo, verified
		go func() {
			if _, err := st.Write(data); err == nil {
				st.CloseWrite()
			}
		}()
		got, err := io.ReadAll(st)
		if assert.NoError(t, err, "stream %d", st.ID()) {
			assert.Equal(t, sha256.Sum256(data), sha256.Sum256(got), "stream %d", st.ID())
			completed.Add(1)
		}
	}
}
