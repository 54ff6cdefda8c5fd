package core

import (
	"sync/atomic"
	"time"
)

// Flow-control arithmetic, kept apart from I/O. recvWindow is owned by
// its stream's receive lock; budget is shared and atomic.

// recvWindow tracks the receive direction of one stream: how much the peer
// may still send, how much to give back, and the auto-tuning epoch.
type recvWindow struct {
	size     uint32 // current window: most bytes the peer may have in flight
	buffered uint32 // received, not yet read by the application
	unacked  uint32 // read, but not yet returned to the peer as credit

	epochStart time.Time // auto-tuning: when the current epoch began
	epochRead  uint64    // bytes read in the current epoch
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
	w.epochRead += uint64(n)
}

// wantUpdate reports whether enough credit is owed to the peer to send it
// back: credit goes back in batches, once a quarter of the window has been
// read, never one update per Read.
func (w *recvWindow) wantUpdate() bool { return w.unacked > 0 && w.unacked >= w.size/4 }

// update returns the credit to send back now (call it when wantUpdate
// reports true). It also auto-tunes: a window read in under about four
// round trips doubles, up to max, if the session budget allows. rtt may be
// zero (unknown), which disables growth.
func (w *recvWindow) update(now time.Time, rtt time.Duration, max uint32, b *budget) uint32 {
	if w.epochStart.IsZero() {
		w.epochStart = now
	}
	if w.epochRead > uint64(w.size/2) {
		if rtt > 0 && w.size < max {
			fraction := float64(w.epochRead) / float64(w.size)
			if now.Sub(w.epochStart) < time.Duration(4*fraction*float64(rtt)) {
				grow := min(w.size, max-w.size)
				if b.take(uint64(grow)) {
					w.size += grow
					w.unacked += grow
				}
			}
		}
		w.epochStart, w.epochRead = now, 0
	}
	delta := w.unacked
	w.unacked = 0
	return delta
}

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
