package core

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Flow-control arithmetic, kept apart from I/O. recvWindow is owned by
// its stream's receive lock; budget is shared: its left is atomic, its
// measure of the path has a mutex of its own, taken under a stream's
// lock and never held across anything else.

// recvWindow tracks the receive direction of one stream: how much the peer
// may still send, how much to give back, and the auto-tuning epoch.
//
// Auto-tuning grows a window only when it is what limits the stream: when
// the stream carried, per round trip, more than two thirds of its window.
// A stream held back by its window carries nearly a whole window per
// round trip (all of it less the credit not yet returned, at most a
// quarter); one that is not carries what the path or the application
// allows, whatever the window. Judging by how fast a window is read
// instead (as quic-go does) misleads on a fast path: a reader catching up
// on a backlog reads at memory speed, the window doubles up to its
// maximum, and the extra data then waits in the carrier's buffers ahead
// of every other stream's frames.
//
// The measure runs over an epoch of at least a millisecond. Before a
// round trip is up, what the epoch carried so far is a lower bound of
// what it carries per round trip, so a window-limited stream grows as
// soon as two thirds of its window have come in one burst, not a round
// trip later; after two round trips without growth the epoch starts
// over. After growth the next epoch starts half a round trip later: until
// the grown credit has gone out and its data come back, the stream
// carries what the old window allowed.
//
// A window that limits grows fourfold. The measure cannot say by how
// much it falls short (a stream held back carries a window per round
// trip, whatever the path would take), so growth is a search, as TCP's
// slow start is, and its factor trades how fast a window reaches a long
// path's BDP (256 KiB to 32 MiB in four steps, each a round trip plus
// the burst: 0.7 s over 200 ms and 100 MiB/s) against how far past it the
// last step lands (at most 4x what the stream needed; the excess is
// credit the sender may use to queue in the carrier). Once the session's
// measure shows the path full, windows are bounded and shrink back to a
// share of its BDP (budget).
type recvWindow struct {
	size     uint32 // current window: most bytes the peer may have in flight
	buffered uint32 // received, not yet read by the application
	unacked  uint32 // read, but not yet returned to the peer as credit
	seen     uint32 // the budget's measuring epoch this stream last returned credit in (budget.measure)

	epochStart int64  // monoNow when the current epoch began; 0: not yet
	epochRead  uint64 // bytes read in the current epoch
}

// minEpoch is the shortest auto-tuning epoch: long enough that bursts of
// reading from a backlog average out.
const minEpoch = time.Millisecond

// growFactor is how much a window that limits its stream grows per epoch
// (see recvWindow).
const growFactor = 4

// minCreditReturn is the least credit a stream returns at once on a
// short path: half the protocol's initial window (see wantUpdate).
const minCreditReturn = initialCredit / 2

// longPath is the round-trip time from which every window returns its
// credit a quarter at a time (wantUpdate).
const longPath = time.Millisecond

// credit is what the peer may still send.
func (w *recvWindow) credit() uint32 { return w.size - w.buffered - w.unacked }

// receive accounts for n bytes arriving; false means the peer overran its
// credit (a flow-control violation).
func (w *recvWindow) receive(n uint32) bool {
	if n > w.credit() {
		return false
	}
	w.buffered += n
	return true
}

// consume accounts for n bytes read by the application.
func (w *recvWindow) consume(n uint32) {
	w.buffered -= n
	w.unacked += n
}

// wantUpdate reports whether enough credit is owed to the peer to send it
// back, on a path of round-trip time rtt (0: unknown): once unacked
// reaches a quarter of the window and, on a path shorter than longPath,
// at least minCreditReturn (128 KiB, half of a 256 KiB window). The rule
// is the same over every carrier.
//
// Credit goes back in batches, never one update per Read. Every update is
// a frame, and usually a transport write of its own: with 256 KiB windows
// credit returned at a quarter cost 64 concurrent bulk streams 12 % of
// their rate to update writes over loopback TCP, so on a short path a
// small window returns it at half (as x/net/http2 does). A large window
// returns it at a quarter: updates are then rare next to the data anyway,
// and a window need only be 4/3 of what the path holds in flight, not
// twice. So does every window on a long path, where a small window is
// what limits its stream and the updates cost nothing next to the round
// trip: returned at half, the credit read and not yet returned is up to
// half the window, and a stream reading 36 KiB at a time from a 256 KiB
// window had about 0.57 of it in flight per round trip, under the two
// thirds that prove a window limits its stream (update), so it never
// grew.
func (w *recvWindow) wantUpdate(rtt time.Duration) bool {
	batch := w.size >> 2
	if rtt < longPath {
		batch = max(batch, minCreditReturn)
	}
	return w.unacked > 0 && w.unacked >= batch
}

// update returns the credit to send back now (call it when wantUpdate
// reports true); now is monoNow, received the session's count of Data
// bytes received so far (what budget.measure measures the path by). It
// also auto-tunes: at the end of an epoch, a window that carried more
// than two thirds of itself per round trip grows growFactor times, up to
// maxSize, as far as the session budget allows and, once the path shows
// full, no further than the session's bound (budget.measure); a window
// above the bound shrinks to it, by keeping back credit the application
// freed, never below the window the stream started with. rtt is the
// path's round-trip time; zero (unknown) disables growth.
func (w *recvWindow) update(now int64, rtt time.Duration, maxSize uint32, b *budget, received uint64) uint32 {
	if w.epochStart == 0 {
		w.epochStart = now
	}
	if now >= w.epochStart {
		w.epochRead += uint64(w.unacked)
	}
	// What the stream carried per round trip in its epoch, as a fraction
	// of its window; under a round trip, what it carried so far (a lower
	// bound).
	elapsed := now - w.epochStart
	carried := 0.0
	if rtt > 0 && elapsed >= int64(minEpoch) {
		carried = float64(w.epochRead) * float64(rtt) / float64(max(elapsed, int64(rtt))) / float64(w.size)
	}
	limit := maxSize
	if rtt > 0 {
		if c := b.measure(now, rtt, received, w.size, &w.seen); c > 0 {
			limit = uint32(min(c, uint64(maxSize)))
			if elapsed >= 2*int64(rtt) && 2*carried < 1 {
				// Bounded, a window that carried under half of itself per
				// round trip for two is not what holds its stream back
				// (its application is): it shrinks to twice what it
				// carries, so that the windows' growth stays a measure of
				// the credit in use (budget.endEpoch).
				limit = min(limit, max(b.path.base, uint32(2*carried*float64(w.size))))
			}
		}
	}
	switch {
	case rtt == 0 || elapsed < int64(minEpoch):
	case 3*carried > 2 && w.size < limit:
		grow := b.takeUpTo(min(uint64(w.size)*(growFactor-1), uint64(limit-w.size)))
		w.size += uint32(grow)
		w.unacked += uint32(grow)
		// The grown credit reaches the peer in half a round trip, and its
		// data is here a round trip from now: until then the stream
		// carries what the old window allowed, which says nothing of the
		// new one. The next epoch starts half a round trip ahead (a
		// window-limited stream's data comes in a burst that may begin
		// before the round trip is up).
		w.epochStart, w.epochRead = now+int64(rtt/2), 0
	case elapsed >= 2*int64(rtt):
		w.epochStart, w.epochRead = now, 0
	}
	if w.size > limit {
		// Shrink toward the limit by keeping back credit the application
		// has freed: the peer's credit is spent and not topped up, and
		// what was kept goes back to the budget.
		shrink := min(w.size-limit, w.unacked)
		w.size -= shrink
		w.unacked -= shrink
		b.give(uint64(shrink))
	}
	delta := w.unacked
	w.unacked = 0
	return delta
}

// monoNow is a monotonic clock reading in nanoseconds.
func monoNow() int64 { return int64(time.Since(clockBase)) }

var clockBase = time.Now()

// budget is the session-wide receive budget that window growth draws on,
// and the session's measure of its path (measure), which bounds the
// windows once the path is full.
type budget struct {
	left atomic.Int64

	mu   sync.Mutex   // guards path; taken under a stream's lock, never the other way
	path *pathMeasure // made by the first measure: an idle session has none
}

// pathMeasure is the session's measure of its path (budget.measure).
type pathMeasure struct {
	base       uint32               // the initial window, as the first update saw it: no window shrinks below it
	left0      int64                // the budget's left then, before any window grew
	epoch      uint32               // the measuring epoch, counted from 1
	epochStart int64                // monoNow when it began
	epochRecv  uint64               // the session's received bytes then
	grownAt    [2]float64           // how far the windows had grown in all when this epoch and the last began
	active     [activeEpochs]uint32 // [e%activeEpochs]: streams whose last credit return was in epoch e, of the last activeEpochs
	from       uint32               // the first epoch active counts (restart)
	rates      [rateEpochs]float32
	ri         uint8   // where the next epoch's rate goes in rates
	stalls     uint8   // epochs since the rate last grew by a quarter
	fullRate   float32 // the rate then; once full, the path's rate when it last showed full
	sinceProbe uint8   // epochs since the last probe (probeEvery)
	probing    uint8   // epochs into a probe; 0: none
	probeBase  float64 // the best rate when the probe began
	probeMin   float64 // the least rate of the probe's epochs so far
	probeFrom  uint64  // the bound then
	full       bool    // the path is full: windows are bounded
	bound      uint64  // the most a window may be while full
}

// The session's measure. Every window grows by its own stream's evidence
// (recvWindow.update), in steps of growFactor, so together they overshoot
// what the path holds: the last step lands up to 4x past a stream's need,
// and the first streams to grow may stop 4x above the others once the
// path is full. The excess is credit the peer spends queueing data in
// the carrier's buffers (its kernel's, a proxy's) ahead of every other
// frame, and where that queue is deeper than a round trip's worth of the
// smaller windows, each stream's share of the path is its window's share
// of the sum, not an equal one.
//
// So the session measures what the path delivers: the bytes received per
// second over epochs of at least a round trip (rates holds the last
// rateEpochs); their maximum times the minimum RTT is the path's BDP. The
// path is full when that rate stops growing by a quarter every few epochs
// (fullStalls, as BBR's startup judges it), or when the windows' growth
// allows fullSlack times what the session carries per round trip. Until
// then windows grow as they prove they limit, as TCP's slow start does.
// Then the windows are bounded:
//
//   - When the path turns out full, and whenever the windows' growth again
//     allows fullSlack times what arrives, every stream that returns
//     credit gets an equal share of fullGain times the BDP. A window above
//     the bound shrinks back (update keeps back credit the application
//     freed), so the first streams to grow lose their head start within
//     a round trip or two, and the data in flight beyond the BDP, which
//     every other stream's frames wait behind, is a fifth of the BDP.
//   - While the session carries clearly less (probeBelow) than the path
//     did when it last showed full, the bound grows by a quarter per
//     epoch: streams held back by it then carry more, until the path is
//     full again. So a stream beside others that send little is not held
//     to an equal share. A bound larger than the streams need costs
//     nothing: a window grows only when it limits its stream. If the
//     path got slower, the windows grown past it soon allow fullSlack
//     times what arrives, and the shares start again from its new rate.
//   - Every probeEvery epochs the bound grows by a quarter for a couple of
//     epochs, and stays grown only if the session then carries more:
//     the path got faster, or the streams' applications did.
//   - A bounded window that carried under half of itself per round trip
//     for two shrinks to twice what it carries: its application, not the
//     window, holds the stream back, and the windows' growth then stays
//     a measure of the credit in use, not of windows left over from a
//     busier time.
//
// A lull (an epoch of over four round trips: too little arrives to
// return credit) starts the measure over.

// activeEpochs is how many epochs back a stream that returned credit
// counts for the shares: a stream's credit goes back in batches of a
// quarter of its window, so one whose window is above its share (and
// shrinking) may return none for a few epochs; counting only the last
// two, eight streams at 50 ms were now and then seven, and the shares
// an eighth too large for good.
const activeEpochs = 4

// rateEpochs is how many epochs the measured rate's maximum spans.
const rateEpochs = 8

// fullStalls is how many epochs without the rate growing by a quarter
// show that the path is full.
const fullStalls = 3

// fullSlack: windows whose growth allows this many times what the
// session carried per round trip are not what limits it; the path is
// full, and growing them adds only queue. Windows that limit carry at
// least three quarters of themselves per round trip (credit returns at a
// quarter), and the bound gives fullGain*8/7 of the BDP, so 1.5 is clear
// of both.
const fullSlack = 1.5

// fullGain is the sum of a full session's windows in flight over its
// BDP: enough that the path stays busy while credit is on its way back,
// little enough that the data beyond the BDP (what waits in the
// carrier's and the path's queues) is a fifth of a round trip's worth.
const fullGain = 1.2

// probeBelow: an epoch that carried less than this much of the path's
// measured rate leaves room the bound may be holding streams from.
const probeBelow = 0.85

// Every probeEvery epochs of a full path the bound grows by a quarter for
// probeEpochs epochs. Unless each of them but the first (whose credit is
// still on its way) carried probeGain times the best rate before (one
// epoch's burst is no proof: data that queued arrives in bursts), it goes
// back; if they did, the next probe follows at once. So a path that got
// faster, or applications that speed up after the path showed full, are
// not held at the rate it showed full at, while a path still full sees a
// quarter more in flight for three epochs in every probeEvery.
const (
	probeEvery  = 16
	probeEpochs = 3
	probeGain   = 1.1
)

// measure accounts for a stream returning credit at now, with the
// session having received received bytes so far, and returns the most a
// window may be (0: no bound, the path is not known to be full). size is
// the stream's window; seen its epoch mark (recvWindow.seen).
func (b *budget) measure(now int64, rtt time.Duration, received uint64, size uint32, seen *uint32) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.path == nil {
		b.path = &pathMeasure{base: size, left0: b.left.Load()}
		b.path.restart(now, received)
	}
	return b.path.measure(now, rtt, received, seen, b.left.Load())
}

// measure is budget.measure; left is the budget's left now.
func (b *pathMeasure) measure(now int64, rtt time.Duration, received uint64, seen *uint32, left int64) uint64 {
	epoch := int64(max(rtt, minEpoch))
	if elapsed := now - b.epochStart; elapsed >= epoch {
		if elapsed > 4*epoch {
			b.restart(now, received) // a lull
		} else {
			b.endEpoch(received-b.epochRecv, elapsed, rtt, left)
			b.epoch++
			b.epochStart, b.epochRecv = now, received
			b.active[b.epoch%activeEpochs] = 0 // those last seen activeEpochs ago
		}
	}
	if *seen != b.epoch {
		if *seen >= b.from && b.epoch-*seen < activeEpochs {
			b.active[*seen%activeEpochs]--
		}
		*seen = b.epoch
		b.active[b.epoch%activeEpochs]++
	}
	if !b.full {
		return 0
	}
	return b.bound
}

// restart starts the measure over: the path is not known to be full.
// Call with the budget's mu held.
func (b *pathMeasure) restart(now int64, received uint64) {
	b.epoch++
	b.epochStart, b.epochRecv = now, received
	b.grownAt = [2]float64{}
	b.active, b.from = [activeEpochs]uint32{}, b.epoch
	b.rates, b.ri = [rateEpochs]float32{}, 0
	b.stalls, b.fullRate, b.full, b.bound = 0, 0, false, 0
	b.sinceProbe, b.probing, b.probeBase, b.probeFrom, b.probeMin = 0, 0, 0, 0, 0
}

// endEpoch ends an epoch of elapsed nanoseconds that carried bytes,
// judges whether the path is full and sets the bound; left is the
// budget's left now. Call with the budget's mu held.
func (b *pathMeasure) endEpoch(bytes uint64, elapsed int64, rtt time.Duration, left int64) {
	rate := float64(bytes) * float64(time.Second) / float64(elapsed)
	b.rates[b.ri] = float32(rate)
	b.ri = (b.ri + 1) % rateEpochs
	var best float64
	for _, r := range b.rates {
		best = max(best, float64(r))
	}
	// The windows' growth when the last epoch began: credit granted by
	// then reached the peer and its data came back (a round trip) before
	// this epoch began, so this epoch carried all of it that the path
	// and the applications allow. (Growth since may not show yet: a
	// window grown just before this epoch began would look unused.)
	grown := b.grownAt[1]
	b.grownAt = [2]float64{float64(b.left0 - left), b.grownAt[0]}
	overfull := rate > 0 && grown > fullSlack*rate*rtt.Seconds()
	if !b.full {
		switch {
		case overfull:
			b.full = true
		case best >= 1.25*float64(b.fullRate):
			b.fullRate, b.stalls = float32(best), 0
		default:
			b.stalls++
			b.full = b.stalls >= fullStalls
		}
		if !b.full {
			return
		}
		overfull = true
	}
	switch {
	case overfull:
		// Shares for the streams that returned credit in the last
		// activeEpochs epochs.
		var n float64
		for _, c := range b.active {
			n += float64(c)
		}
		n = max(n, 1)
		b.bound = b.share(fullGain * best * rtt.Seconds() / n)
		b.fullRate = float32(best)
		b.probing = 0
	case rate < probeBelow*float64(b.fullRate):
		b.bound = min(b.bound+b.bound/4, maxCredit)
	case b.probing > 0:
		// A probe's credit shows in the rate within two epochs. If the
		// path took no more, it is full at the bound it had.
		if b.probing > 1 { // the first epoch's credit was still on its way
			b.probeMin = min(b.probeMin, rate)
		}
		if b.probing++; b.probing > probeEpochs {
			if b.probeMin < probeGain*b.probeBase {
				b.bound = b.probeFrom
			} else {
				b.sinceProbe = probeEvery - 1 // it did: probe again at once
			}
			b.fullRate, b.probing = float32(best), 0
		}
	default:
		if b.sinceProbe++; b.sinceProbe >= probeEvery {
			b.sinceProbe, b.probing = 0, 1
			b.probeBase, b.probeFrom, b.probeMin = best, b.bound, math.Inf(1)
			b.bound = min(b.bound+b.bound/4, maxCredit)
		}
	}
}

// share is the window that keeps target bytes in flight on average: a
// window returns credit in batches of a quarter of itself, and on a
// short path at least minCreditReturn (wantUpdate), so what it has in
// flight is on average an eighth short of it, or up to half of
// minCreditReturn. Never under base.
func (b *pathMeasure) share(target float64) uint64 {
	return uint64(max(float64(b.base), target*8/7, target+minCreditReturn/2))
}

// takeUpTo takes as much of n as is left, and returns what it took.
func (b *budget) takeUpTo(n uint64) uint64 {
	for {
		left := b.left.Load()
		t := min(int64(n), max(left, 0))
		if t == 0 || b.left.CompareAndSwap(left, left-t) {
			return uint64(t)
		}
	}
}

func (b *budget) give(n uint64) { b.left.Add(int64(n)) }

// addCredit adds a peer's window update to a send credit, reporting false
// if the sum would exceed what the protocol allows.
func addCredit(credit uint64, delta uint32) (uint64, bool) {
	sum := credit + uint64(delta)
	return sum, sum <= maxCredit
}
