package mem

import "time"

// deadline is a resettable absolute deadline for one side of a pipe (the
// reader's read deadline or the writer's write deadline).
//
// It follows the timer pattern of net.Pipe, but instead of having its own
// mutex and cancel channel it is guarded by the mutex of the pipe that owns
// it, and expiry is signalled by broadcasting the pipe's condition variable.
// Blocked Reads and Writes wait on that condition variable anyway, so a
// single lock and a single wait primitive cover data, close and deadline
// events, with no lock ordering to get wrong.
type deadline struct {
	timer   *time.Timer
	gen     uint64 // bumped on every change; stale timer callbacks compare it
	expired bool
}

// set changes the deadline to t; the zero time clears it. p.mu must be held.
func (d *deadline) set(p *pipe, t time.Time) {
	d.stop()
	d.expired = false
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.expired = true
		p.cond.Broadcast()
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(dur, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if d.gen == gen { // not reset or stopped since the timer was armed
			d.expired = true
			d.timer = nil
			p.cond.Broadcast()
		}
	})
}

// stop disarms the timer, if any, and invalidates a callback that may
// already be running. It does not change expired. p.mu must be held.
func (d *deadline) stop() {
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
