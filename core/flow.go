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
// the stream carried, per round trip, more than half a window, measured
// over an epoch of at least two round trips (and a millisecond). A stream
// held back by its window carries a whole window per round trip; one that
// is not carries what the path or the application allows, whatever the
// window. Judging by how fast a window is read instead (as quic-go does)
// misleads on a fast path: a reader catching up on a backlog reads at
// memory speed, the window doubles up to its maximum, and the extra data
// then waits in the carrier's buffers ahead of every other stream's frames.
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
// back: once unacked reaches size >> shift (Session.creditShift). Credit
// goes back in batches, never one update per Read. Every
// update is a frame, and usually a transport write of its own, so over
// TCP it goes back once half the window has been read (as x/net/http2
// does); at a quarter, 64 concurrent bulk streams lost 12 % of their rate
// to update writes. Over other carriers it goes back at a quarter: over
// TLS one bulk stream was about 6 % faster that way (medians of ten
// alternating runs each; single runs there spread by a third). Why is not
// established: a larger window did not speed TLS up. Over TCP the kernel's
// RTT tunes the window; elsewhere ping RTTs, taken while the carrier is
// idle, may not, and earlier credit is the safer side.
func (w *recvWindow) wantUpdate(shift uint8) bool {
	return w.unacked > 0 && w.unacked >= w.size>>shift
}

// update returns the credit to send back now (call it when wantUpdate
// reports true); now is monoNow. It also auto-tunes: at the end of an
// epoch, a window smaller than twice what the stream carried per round
// trip doubles, up to max, if the session budget allows. rtt is the
// path's round-trip time; zero (unknown) disables growth.
func (w *recvWindow) update(now int64, rtt time.Duration, max uint32, b *budget) uint32 {
	if w.epochStart == 0 {
		w.epochStart = now
	}
	w.epochRead += uint64(w.unacked)
	if elapsed := now - w.epochStart; rtt > 0 && elapsed >= int64(2*rtt) && elapsed >= int64(minEpoch) {
		perRTT := float64(w.epochRead) * float64(rtt) / float64(elapsed)
		if float64(w.size) < 2*perRTT && w.size < max {
			grow := min(w.size, max-w.size)
			if b.take(uint64(grow)) {
				w.size += grow
				w.unacked += grow
			}
		}
		w.epochStart, w.epochRead = now, 0
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

func (b *budget) take(n uint64) bool {
	for {
		left := b.left.Load()
		if int64(n) > left {
			return false
		}
		if b.left.CompareAndSwap(left, left-int64(n)) {
			return true
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
