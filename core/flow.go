package core

import (
	"sync/atomic"
	"time"
)

// Flow-control arithmetic, kept apart from I/O. recvWindow is owned by
// its stream's receive lock; budget is shared and atomic.

// recvWindow tracks the receive direction of one stream: how much the peer
// may still send, how much to give back, and what auto-tuning has seen.
//
// Auto-tuning grows a window only when it is what limits the stream: the
// peer has sent everything it was allowed, except credit granted within
// the last round trip (which it cannot have received yet), while the
// reader keeps up (little is buffered). Judging by how fast a window is
// read instead (as quic-go does) misleads on a fast path: a reader
// catching up on a backlog reads at memory speed, the window doubles up
// to its maximum, and the extra data then waits in the carrier's buffers
// ahead of every other stream's frames.
type recvWindow struct {
	size     uint32 // current window: most bytes the peer may have in flight
	buffered uint32 // received, not yet read by the application
	unacked  uint32 // read, but not yet returned to the peer as credit
	granted  uint32 // credit returned since grantAt
	grantAt  int64  // monoNow when the current grant interval began
}

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
// back: credit goes back in batches, once a quarter of the window has been
// read, never one update per Read.
func (w *recvWindow) wantUpdate() bool { return w.unacked > 0 && w.unacked >= w.size/4 }

// update returns the credit to send back now (call it when wantUpdate
// reports true). It also auto-tunes: when the window held the peer back,
// it doubles, up to max, if the session budget allows. The window held the
// peer back when the reader keeps up (little is buffered) yet the peer has
// used all its credit but what was returned within the last round trip,
// which it cannot have received yet. rtt is the path's round-trip time;
// zero (unknown) disables growth.
func (w *recvWindow) update(rtt time.Duration, max uint32, b *budget) uint32 {
	now := monoNow()
	recent := uint32(0)
	if now-w.grantAt < int64(rtt) {
		recent = w.granted
	}
	limited := w.buffered <= w.size/4 && w.credit() < recent+minChunk
	if limited && rtt > 0 && w.size < max {
		grow := min(w.size, max-w.size)
		if b.take(uint64(grow)) {
			w.size += grow
			w.unacked += grow
		}
	}
	delta := w.unacked
	w.unacked = 0
	if now-w.grantAt >= int64(rtt) {
		w.grantAt, w.granted = now, 0
	}
	w.granted += delta
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
