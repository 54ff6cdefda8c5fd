package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecvWindowCredit(t *testing.T) {
	const size = 1 << 20
	w := recvWindow{size: size}
	require.True(t, w.receive(600<<10))
	require.False(t, w.receive(424<<10+1), "beyond credit")
	require.True(t, w.receive(424<<10))
	assert.Equal(t, uint32(0), w.credit())
	w.consume(200 << 10)
	assert.False(t, w.wantUpdate(0), "200 KiB < a quarter of 1 MiB")
	w.consume(56 << 10)
	require.True(t, w.wantUpdate(0))
	var b budget
	delta := w.update(1, 0, size, &b, 0)
	assert.Equal(t, uint32(256<<10), delta, "returns exactly what was read")
	assert.Equal(t, uint32(256<<10), w.credit())

	// On a short path a small window returns credit at half, never less
	// than minCreditReturn: whatever the carrier. On a long path, at a
	// quarter.
	w = recvWindow{size: initialCredit}
	require.True(t, w.receive(initialCredit))
	w.consume(initialCredit / 4)
	assert.True(t, w.wantUpdate(longPath), "a quarter of 256 KiB on a long path")
	assert.False(t, w.wantUpdate(longPath-1), "below half of 256 KiB on a short path")
	assert.False(t, w.wantUpdate(0), "below half of 256 KiB, the RTT unknown")
	w.consume(minCreditReturn - initialCredit/4)
	assert.True(t, w.wantUpdate(0))
}

// carry has the stream carry n windows' worth of data, read as it
// arrives, spread evenly over the time d from start, returning credit in
// the usual halves. It returns the credit sent back.
func carry(t *testing.T, w *recvWindow, n int, start int64, d time.Duration, rtt time.Duration, max uint32, b *budget) uint32 {
	t.Helper()
	total, size := uint32(0), w.size
	steps := 2 * n
	for i := 1; i <= steps; i++ {
		require.True(t, w.receive(size/2))
		w.consume(size / 2)
		require.True(t, w.wantUpdate(rtt))
		total += w.update(start+int64(d)*int64(i)/int64(steps), rtt, max, b, 0)
	}
	return total
}

func TestRecvWindowAutoTune(t *testing.T) {
	const size, max = 256 << 10, 1 << 20
	const rtt = 10 * time.Millisecond
	var b budget
	b.give(1 << 30)

	// Held back by its window: a window per round trip, over two round
	// trips. The window grows fourfold (growFactor) after the first round
	// trip, and the growth is credit at once.
	w := recvWindow{size: size}
	w.update(1, rtt, max, &b, 0) // nothing read yet: starts the epoch
	credit := carry(t, &w, 1, 1, rtt, rtt, max, &b)
	assert.Equal(t, uint32(4*size), w.size)
	assert.Equal(t, uint32(4*size), credit, "all that was read, plus the growth")
	assert.Equal(t, int64(1<<30-3*size), b.left.Load())

	// Growth takes what is left of the budget when it runs low.
	w = recvWindow{size: size}
	low := &budget{}
	low.give(size / 2)
	w.update(1, rtt, max, low, 0)
	carry(t, &w, 1, 1, rtt, rtt, max, low)
	assert.Equal(t, uint32(size+size/2), w.size)
	assert.Zero(t, low.left.Load())

	// Carrying half a window per round trip, the window does not limit.
	w = recvWindow{size: size}
	w.update(1, rtt, max, &b, 0)
	carry(t, &w, 1, 1, 2*rtt, rtt, max, &b)
	assert.Equal(t, uint32(size), w.size, "half a window per round trip")

	// The same bytes at the same pace on a path with a 10 µs round trip:
	// the stream carried a sliver of a window per round trip.
	w = recvWindow{size: size}
	w.update(1, 10*time.Microsecond, max, &b, 0)
	carry(t, &w, 2, 1, 2*rtt, 10*time.Microsecond, max, &b)
	assert.Equal(t, uint32(size), w.size, "no growth on a short path")

	// A burst, read from a backlog at memory speed within a microsecond,
	// proves nothing: the epoch lasts at least a millisecond.
	w = recvWindow{size: size}
	w.update(1, 10*time.Microsecond, max, &b, 0)
	carry(t, &w, 2, 1, time.Microsecond, 10*time.Microsecond, max, &b)
	assert.Equal(t, uint32(size), w.size, "no growth on a burst")

	// Growth stops at the maximum, when the budget is empty, and when the
	// RTT is unknown.
	for _, c := range []struct {
		name string
		size uint32
		rtt  time.Duration
		b    *budget
	}{
		{"max", max, rtt, &b},
		{"budget", size, rtt, &budget{}},
		{"no rtt", size, 0, &b},
	} {
		w := recvWindow{size: c.size}
		w.update(1, c.rtt, max, c.b, 0)
		carry(t, &w, 2, 1, 2*rtt, c.rtt, max, c.b)
		assert.Equal(t, c.size, w.size, c.name)
	}
}

func TestAddCreditOverflow(t *testing.T) {
	c, ok := addCredit(maxCredit-10, 10)
	assert.True(t, ok)
	assert.Equal(t, uint64(maxCredit), c)
	_, ok = addCredit(maxCredit-10, 11)
	assert.False(t, ok)
	_, ok = addCredit(maxCredit, 0xffffffff)
	assert.False(t, ok)
}

// drain reads all of b in reads of at most size bytes.
func drain(b *recvBuffer, size int) []byte {
	got := make([]byte, 0, b.len())
	buf := make([]byte, size)
	for b.len() > 0 {
		n := b.read(buf)
		got = append(got, buf[:n]...)
	}
	return got
}

func TestRecvBuffer(t *testing.T) {
	var b recvBuffer
	var want []byte
	for i := range 5000 {
		p := []byte{byte(i), byte(i >> 8), 1, 2, 3}
		b.write(p)
		want = append(want, p...)
	}
	assert.Equal(t, len(want), b.len())
	assert.LessOrEqual(t, len(b.segs), len(want)/blockSize+1, "small writes are packed")
	assert.Equal(t, want, drain(&b, 777))
	assert.Empty(t, b.segs, "an empty buffer holds no blocks")
	b.write(make([]byte, 3*blockSize))
	b.reset()
	assert.Equal(t, 0, b.len())
}

// TestRecvWindowGrowsWithinRoundTrip: a window-limited stream's window
// comes in one burst; once two thirds of it came in under a round trip,
// the window grows at once, and the half round trip after growth (the
// old window's data) does not count.
func TestRecvWindowGrowsWithinRoundTrip(t *testing.T) {
	const size, maxSize = 256 << 10, 32 << 20
	const rtt = 100 * time.Millisecond
	var b budget
	b.give(1 << 30)
	read := func(w *recvWindow, n uint32, at time.Duration) {
		t.Helper()
		require.True(t, w.receive(n))
		w.consume(n)
		w.update(int64(at), rtt, maxSize, &b, 0)
	}
	w := recvWindow{size: size}
	w.update(int64(time.Millisecond), rtt, maxSize, &b, 0) // the epoch starts
	read(&w, size/2, 60*time.Millisecond)
	assert.Equal(t, uint32(size), w.size, "half a window so far")
	read(&w, size/2, 61*time.Millisecond)
	assert.Equal(t, uint32(4*size), w.size, "a whole window in under a round trip")
	assert.Equal(t, int64(61*time.Millisecond+rtt/2), w.epochStart, "the next epoch starts half a round trip on")

	read(&w, size, 70*time.Millisecond) // what the old window allowed
	assert.Equal(t, uint32(4*size), w.size)
	assert.Zero(t, w.epochRead, "not counted")
	read(&w, 2*size, 165*time.Millisecond)
	assert.Equal(t, uint32(4*size), w.size, "half the new window")
	read(&w, 2*size, 166*time.Millisecond)
	assert.Equal(t, uint32(16*size), w.size, "the new window in one burst")
}

// simStream is a stream in simulate: a receive window, and the most its
// application sends per second (0: as much as it may).
type simStream struct {
	w    recvWindow
	want float64
}

// simulate drives streams sharing budget b over a fluid model of a path
// of link bytes per second and round-trip time rtt, for d from start (in
// monoNow nanoseconds), a millisecond at a time. Each millisecond the
// link is shared max-min fairly among the streams' demands: what a
// stream's window allows per round trip, or what its application sends
// if that is less. Each stream reads what it received at once and
// returns credit as Stream.Read does. It returns the time it ended at;
// *received counts the session's bytes.
func simulate(t *testing.T, streams []*simStream, b *budget, link float64, rtt time.Duration, start int64, d time.Duration, received *uint64) int64 {
	t.Helper()
	const step = time.Millisecond
	const maxSize = 32 << 20
	demand := make([]float64, len(streams))
	alloc := make([]float64, len(streams))
	frac := make([]float64, len(streams))
	now := start
	for end := start + int64(d); now < end; now += int64(step) {
		for i, s := range streams {
			demand[i] = float64(s.w.size) / rtt.Seconds()
			if s.want > 0 {
				demand[i] = min(demand[i], s.want)
			}
			alloc[i] = -1
		}
		// Max-min fair shares: the smallest demands are met first.
		left, open := link, len(streams)
		for open > 0 {
			share, met := left/float64(open), false
			for i := range streams {
				if alloc[i] < 0 && demand[i] <= share {
					alloc[i], left, open, met = demand[i], left-demand[i], open-1, true
				}
			}
			if !met {
				for i := range streams {
					if alloc[i] < 0 {
						alloc[i] = share
					}
				}
				open = 0
			}
		}
		for i, s := range streams {
			frac[i] += alloc[i] * step.Seconds()
			n := uint32(min(frac[i], float64(s.w.credit())))
			frac[i] -= float64(n)
			if n == 0 {
				continue
			}
			require.True(t, s.w.receive(n))
			*received += uint64(n)
			s.w.consume(n)
			if s.w.wantUpdate(rtt) {
				s.w.update(now, rtt, maxSize, b, *received)
			}
		}
	}
	return now
}

// TestBudgetSharesFullPath: windows that grew apart (two at 4 MiB, six at
// 1 MiB, as the first streams to grow leave them) over a path they
// overfill shrink, once the session's rate stops growing, to one equal
// share of fullGain times the path's BDP, and give what they shed back
// to the budget.
func TestBudgetSharesFullPath(t *testing.T) {
	const initial = 256 << 10
	const link = 50 << 20
	const rtt = 50 * time.Millisecond
	var b budget
	b.give(64 << 20)
	streams := make([]*simStream, 8)
	var received uint64
	for i := range streams {
		streams[i] = &simStream{w: recvWindow{size: initial}}
		streams[i].w.update(1, rtt, 32<<20, &b, 0) // the first sets the base
		grown := uint32(1 << 20)
		if i < 2 {
			grown = 4 << 20
		}
		streams[i].w.size += uint32(b.takeUpTo(uint64(grown - initial)))
	}
	simulate(t, streams, &b, link, rtt, 1, 2*time.Second, &received)

	bdp := link * rtt.Seconds()
	want := fullGain * bdp / 8 * 8 / 7 // an equal share of fullGain times the BDP, see share
	for i, s := range streams {
		assert.InDelta(t, want, float64(s.w.size), 0.1*want, "stream %d", i)
	}
	var sum int64
	for _, s := range streams {
		sum += int64(s.w.size - initial)
	}
	assert.Equal(t, int64(64<<20)-sum, b.left.Load(), "shed window is back in the budget")
	// A single stream with that bound still has the whole BDP in flight:
	// the share is of fullGain times it.
	assert.Greater(t, 8*want*7/8, bdp)
}

// TestBudgetLeavesSlowStreamsShare: streams that carry less than an equal
// share (applications sending slowly) count for less, so a bulk stream
// beside them gets a window for the rest of the path, not a quarter of
// it.
func TestBudgetLeavesSlowStreamsShare(t *testing.T) {
	const link = 50 << 20
	const rtt = 50 * time.Millisecond
	var b budget
	b.give(64 << 20)
	bulk := &simStream{w: recvWindow{size: 256 << 10}}
	streams := []*simStream{bulk}
	for range 3 {
		streams = append(streams, &simStream{w: recvWindow{size: 256 << 10}, want: link / 20})
	}
	var received uint64
	simulate(t, streams, &b, link, rtt, 1, 3*time.Second, &received)
	require.True(t, b.path.full)
	// The bulk stream's window carries the rest of the link per round
	// trip: it is not what holds the stream back.
	rest := (link - 3*link/20) * rtt.Seconds()
	assert.GreaterOrEqual(t, float64(bulk.w.size), 0.9*rest)
	before := received
	simulate(t, streams, &b, link, rtt, 1+int64(3*time.Second), time.Second, &received)
	assert.InDelta(t, link, float64(received-before), 0.02*link, "the link stays full")
}

// TestBudgetRestartsAfterLull: after a lull the measure starts over: no
// bound until the path shows full again, so windows grow as at the start.
func TestBudgetRestartsAfterLull(t *testing.T) {
	const link = 50 << 20
	const rtt = 50 * time.Millisecond
	var b budget
	b.give(64 << 20)
	streams := []*simStream{{w: recvWindow{size: 256 << 10}}, {w: recvWindow{size: 256 << 10}}}
	var received uint64
	now := simulate(t, streams, &b, link, rtt, 1, time.Second, &received)
	require.True(t, b.path.full)
	require.NotZero(t, b.measure(now, rtt, received, streams[0].w.size, &streams[0].w.seen))
	now += int64(10 * rtt)
	assert.Zero(t, b.measure(now, rtt, received+1, streams[0].w.size, &streams[0].w.seen), "no bound after a lull")
	assert.False(t, b.path.full)
}

// TestBudgetFollowsFasterPath: a path that gets faster after it showed
// full (another flow on it ended) is used: the bound does not hold the
// streams at the rate the path first showed.
func TestBudgetFollowsFasterPath(t *testing.T) {
	const rtt = 50 * time.Millisecond
	var b budget
	b.give(64 << 20)
	streams := make([]*simStream, 4)
	for i := range streams {
		streams[i] = &simStream{w: recvWindow{size: 256 << 10}}
	}
	var received uint64
	now := simulate(t, streams, &b, 25<<20, rtt, 1, 2*time.Second, &received)
	require.True(t, b.path.full)
	now = simulate(t, streams, &b, 50<<20, rtt, now, 4*time.Second, &received)
	before := received
	simulate(t, streams, &b, 50<<20, rtt, now, time.Second, &received)
	assert.InDelta(t, 50<<20, float64(received-before), 0.1*(50<<20), "the faster path is used")
}

// TestBudgetCountsStreamsReturningCreditRarely: a stream whose window
// returns credit only every few epochs (a large window above its share,
// shrinking) still counts for the shares, so that they are not too large
// for the others.
func TestBudgetCountsStreamsReturningCreditRarely(t *testing.T) {
	const rtt = 10 * time.Millisecond
	const perTick = 16 << 20 // received per round trip: a 16 MiB BDP
	var b budget
	b.give(64 << 20)
	seen := make([]uint32, 8)
	var received uint64
	for tick := int64(1); tick <= 12; tick++ { // full by the fifth; no probe before the twentieth
		received += perTick
		for i := range seen {
			if i >= 6 && tick%4 != 1 {
				continue // returns credit every fourth round trip only
			}
			b.measure(tick*int64(rtt)+int64(i)*int64(time.Microsecond), rtt, received, 256<<10, &seen[i])
		}
	}
	require.True(t, b.path.full)
	assert.InDelta(t, float64(b.path.share(fullGain*perTick/8)), float64(b.path.bound), 1, "eight streams share the path")
}

// TestRecvWindowSmallWindowGrows: a stream held back by its 256 KiB
// window on a long path, read 36 KiB at a time, starting late (its first
// epoch passes before any data comes). Returned at half, credit the
// stream has read stays with it until the next burst, and it has about
// 0.57 of its window in flight per round trip, too little to prove its
// window limits it: the window never grew. On a long path credit goes
// back a quarter at a time, and it grows.
func TestRecvWindowSmallWindowGrows(t *testing.T) {
	const size, maxSize = initialCredit, 32 << 20
	const rtt = 100 * time.Millisecond
	const piece = 36 << 10
	var b budget
	b.give(1 << 30)
	w := recvWindow{size: size}
	w.update(int64(time.Millisecond), rtt, maxSize, &b, 0) // the epoch starts before any data
	inFlight := uint32(size)                               // the peer sends its whole credit at once
	for rt := int64(3); rt < 20 && w.size == size; rt++ {
		// The burst sent a round trip ago arrives and is read piece by
		// piece; what the stream returns goes out in the next burst.
		var returned uint32
		for got, i := uint32(0), int64(0); got < inFlight; i++ {
			n := min(piece, inFlight-got)
			got += n
			require.True(t, w.receive(n))
			w.consume(n)
			if w.wantUpdate(rtt) {
				returned += w.update(rt*int64(rtt)+i*int64(time.Millisecond), rtt, maxSize, &b, 0)
			}
		}
		inFlight = returned
	}
	assert.Greater(t, w.size, uint32(size), "the window that limits its stream grows")
}
