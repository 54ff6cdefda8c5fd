package core

import (
	"sync/atomic"
	"time"
)

// Flow-control arithmetic, kept apart from I/O. recvWindow is owned by
// its stream's receive lock; budget is shared and atomic.

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
// credit the sender may use to queue in the carrier).
type recvWindow struct {
	size     uint32 // current window: most bytes the peer may have in flight
	buffered uint32 // received, not yet read by the application
	unacked  uint32 // read, but not yet returned to the peer as credit

	epochStart int64  // monoNow when the current epoch began; 0: not yet
	epochRead  uint64 // bytes read in the current epoch
}

// minEpoch is the shortest auto-tuning epoch: long enough that bursts of
// reading from a backlog average out.
const minEpoch = time.Millisecond

// growFactor is how much a window that limits its stream grows per epoch
// (see recvWindow).
const growFactor = 4

// minCreditReturn is the least credit a stream returns at once: half the
// protocol's initial window (see wantUpdate).
const minCreditReturn = initialCredit / 2

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
// back: once unacked reaches a quarter of the window, and at least
// minCreditReturn (128 KiB, half of a 256 KiB window). The rule is the
// same over every carrier.
//
// Credit goes back in batches, never one update per Read. Every update is
// a frame, and usually a transport write of its own: with 256 KiB windows
// credit returned at a quarter cost 64 concurrent bulk streams 12 % of
// their rate to update writes over loopback TCP, so a small window
// returns it at half (as x/net/http2 does). A large window, grown for a
// long path, returns it at a quarter: updates are then rare next to the
// data anyway, and a window need only be 4/3 of what the path holds in
// flight, not twice.
func (w *recvWindow) wantUpdate() bool {
	return w.unacked > 0 && w.unacked >= max(w.size>>2, minCreditReturn)
}

// update returns the credit to send back now (call it when wantUpdate
// reports true); now is monoNow. It also auto-tunes: at the end of an
// epoch, a window that carried more than two thirds of itself per round
// trip grows growFactor times, up to maxSize, as far as the session budget
// allows. rtt is the path's round-trip time; zero (unknown) disables
// growth.
func (w *recvWindow) update(now int64, rtt time.Duration, maxSize uint32, b *budget) uint32 {
	if w.epochStart == 0 {
		w.epochStart = now
	}
	if now >= w.epochStart {
		w.epochRead += uint64(w.unacked)
	}
	if elapsed := now - w.epochStart; rtt > 0 && elapsed >= int64(minEpoch) {
		// What the stream carried per round trip; under a round trip, what
		// it carried so far (a lower bound).
		perRTT := float64(w.epochRead) * float64(rtt) / float64(max(elapsed, int64(rtt)))
		switch {
		case 3*perRTT > 2*float64(w.size) && w.size < maxSize:
			grow := b.takeUpTo(min(uint64(w.size)*(growFactor-1), uint64(maxSize-w.size)))
			w.size += uint32(grow)
			w.unacked += uint32(grow)
			// The grown credit reaches the peer in half a round trip, and
			// its data is here a round trip from now: until then the
			// stream carries what the old window allowed, which says
			// nothing of the new one. The next epoch starts half a round
			// trip ahead (a window-limited stream's data comes in a burst
			// that may begin before the round trip is up).
			w.epochStart, w.epochRead = now+int64(rtt/2), 0
		case elapsed >= 2*int64(rtt):
			w.epochStart, w.epochRead = now, 0
		}
	}
	delta := w.unacked
	w.unacked = 0
	return delta
}

// monoNow is a monotonic clock reading in nanoseconds.
func monoNow() int64 { return int64(time.Since(clockBase)) }

var clockBase = time.Now()

// budget is the session-wide receive budget that window growth draws on.
type budget struct{ left atomic.Int64 }

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
