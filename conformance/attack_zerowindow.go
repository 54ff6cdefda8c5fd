package conformance

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zeroWindowVolume is what the other streams move in A09 (divided by the
// scale: 12.5 MB under -short).
const zeroWindowVolume = 100 << 20

// checkZeroWindow is attack class A09, a zero window on one stream: the
// victim's application never reads stream S while the peer fills S's
// window, and other streams move 100 MB both ways meanwhile. They must
// move at least a third as fast as the same streams did before S stalled
// (measured on a quarter of the volume); S must hold no more than its
// window (the peer's Write on S takes exactly that, then blocks); the
// peer's blocked writer must fail at its deadline and, after the victim
// resets S, with the victim's code. The victim's goroutines and heap stay
// bounded.
func checkZeroWindow(e *env) {
	peer, victim := e.sessions()
	v := Observe(victim)
	total := e.size(zeroWindowVolume)
	baseline := e.moveBulk(peer, victim, total/4)

	s, vs := e.streamPair(peer, victim) // the victim never reads vs
	window := int(e.config().InitialStreamWindow)
	before := victim.Stats().BytesReceived
	type result struct {
		n   int
		err error
	}
	filled := make(chan result, 1)
	go func() {
		n, err := s.Write(make([]byte, 2*window))
		filled <- result{n, err}
	}()
	require.Eventually(e, func() bool { return victim.Stats().BytesReceived-before >= uint64(window) },
		e.opts.timeout/2, time.Millisecond, "the peer never filled the stalled stream's window")

	stalled := e.moveBulk(peer, victim, total)
	e.Logf("A09: %d bytes in %v beside a stalled stream; %d bytes in %v before it stalled", total, stalled, total/4, baseline)
	// Rates compared as times: stalled/total <= 3 × baseline/(total/4).
	assert.LessOrEqual(e, stalled, 12*baseline+time.Second,
		"the other streams slowed down by more than 3x while one stream was stalled")

	select {
	case r := <-filled:
		e.Fatalf("the Write on the stalled stream returned (n=%d, err=%v): it must block once the window is full", r.n, r.err)
	default:
	}
	require.NoError(e, s.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
	r := <-filled
	require.ErrorIs(e, r.err, os.ErrDeadlineExceeded, "the blocked writer fails at its deadline")
	assert.Equal(e, window, r.n, "the stalled stream took exactly its window, no more")
	require.NoError(e, s.SetWriteDeadline(time.Time{}))

	// Blocked again; the victim gives up on S and resets it.
	go func() {
		n, err := s.Write(make([]byte, window))
		filled <- result{n, err}
	}()
	require.NoError(e, vs.Reset(0x4109))
	r = <-filled
	var se *core.StreamError
	require.ErrorAs(e, r.err, &se, "the blocked writer fails with the reset")
	assert.Equal(e, core.ErrorCode(0x4109), se.Code)
	assert.Zero(e, r.n, "no credit came back for the stalled stream")
	require.NoError(e, victim.Err())
	require.NoError(e, peer.Err())
	e.requireBounded(v)
}

// moveBulk moves total bytes over four new streams between a and b, two
// each way, and returns how long that took. Every byte is counted on
// arrival.
func (e *env) moveBulk(a, b *core.Session, total int) time.Duration {
	type pair struct{ w, r *core.Stream }
	var pairs []pair
	for i := range 4 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		w, r := e.streamPair(from, to)
		pairs = append(pairs, pair{w, r})
	}
	per := total / 4
	chunk := randomBytes(9, 64<<10)
	errs := make(chan error, 2*len(pairs))
	var flows []*flow
	for i, p := range pairs {
		flows = append(flows, newFlow(fmt.Sprintf("stream %d (%d of 4)", p.w.ID(), i+1), per))
	}
	// A session whose reader waits for the stalled stream stops them all:
	// say so in seconds.
	defer e.watchProgress(flows...)()
	var wg sync.WaitGroup
	start := time.Now()
	for i, p := range pairs {
		w, r := flows[i].writer(p.w), flows[i].reader(p.r)
		wg.Go(func() {
			for left := per; left > 0; left -= len(chunk) {
				if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
					errs <- fmt.Errorf("write: %w", err)
					return
				}
			}
			errs <- p.w.CloseWrite()
		})
		wg.Go(func() {
			n, err := io.Copy(io.Discard, r)
			if err == nil && n != int64(per) {
				err = fmt.Errorf("received %d of %d bytes", n, per)
			}
			errs <- err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(e, err)
	}
	for _, p := range pairs {
		p.w.Close()
		p.r.Close()
	}
	return elapsed
}
