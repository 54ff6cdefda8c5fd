package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is a resettable deadline in the manner of net.Pipe's: a channel
// that is closed when the time passes and remade when the deadline moves.
// It has no lock of its own: its fields are guarded by the lock of the half
// it belongs to (Stream.mu for the read deadline, sendMu for the write
// deadline), which set, wait and stopTimer are called with, and which the
// timer's callback takes. Nothing is allocated until a deadline is set.
type deadline struct {
	timer  *time.Timer
	cancel chan struct{} // nil: no deadline ever set
	gen    uint32        // counts set calls: a timer armed by an earlier one does nothing
	fired  atomic.Bool   // cancel is closed: lets every Read and Write check without the lock
}

// set arms the deadline; the zero time clears it. Call with mu, the
// deadline's guard, held: the timer's callback takes it.
func (d *deadline) set(mu *sync.Mutex, t time.Time) {
	d.gen++
	if d.timer != nil {
		d.timer.Stop() // if it already fired, its callback finds gen moved on
		d.timer = nil
	}
	if d.cancel == nil {
		if t.IsZero() {
			return
		}
		d.cancel = make(chan struct{})
	}
	var dur time.Duration // 0: cleared (or now); < 0: passed; > 0: arm a timer
	if !t.IsZero() {
		dur = max(time.Until(t), -1)
	}
	if d.fired.Load() && dur >= 0 { // cleared or moved to the future: reopen
		d.cancel = make(chan struct{})
		d.fired.Store(false)
	}
	switch {
	case t.IsZero():
	case dur > 0:
		gen := d.gen
		d.timer = time.AfterFunc(dur, func() {
			mu.Lock()
			if d.gen == gen {
				d.fireLocked()
			}
			mu.Unlock()
		})
	default:
		d.fireLocked()
	}
}

// fireLocked closes the channel once. Call with the guard held.
func (d *deadline) fireLocked() {
	if !d.fired.Load() {
		d.fired.Store(true)
		close(d.cancel)
	}
}

// stopTimer stops a pending deadline timer, leaving the deadline unfired.
// Call with the guard held.
func (d *deadline) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
		d.gen++
	}
}

// wait returns a channel that is closed when the deadline passes. A
// deadline set later closes the same channel. Call with the guard held.
func (d *deadline) wait() <-chan struct{} {
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

// expired reports whether the deadline has passed. It takes no lock: it
// runs on every Read and Write.
func (d *deadline) expired() bool { return d.fired.Load() }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
