package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is a resettable deadline in the manner of net.Pipe's: a channel
// that is closed when the time passes and remade when the deadline moves.
// Nothing is allocated until a deadline is set.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // nil: no deadline ever set
	fired  atomic.Bool   // cancel is closed: lets every Read and Write check without the lock
	armed  atomic.Bool   // a deadline is set (passed or not)
}

// set arms the deadline; the zero time clears it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed.Store(!t.IsZero())
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired; wait for its close to be visible
	}
	d.timer = nil
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
	closed := isClosed(d.cancel)
	if closed && dur >= 0 { // cleared or moved to the future: reopen
		d.cancel = make(chan struct{})
		d.fired.Store(false)
		closed = false
	}
	if t.IsZero() {
		return
	}
	if dur > 0 {
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() {
			d.fired.Store(true) // before close: set waits for the close
			close(cancel)
		})
		return
	}
	if !closed {
		d.fired.Store(true)
		close(d.cancel)
	}
}

// stopTimer stops a pending deadline timer, leaving the deadline unfired.
func (d *deadline) stopTimer() {
	d.mu.Lock()
	if d.timer != nil && d.timer.Stop() {
		d.timer = nil
	}
	d.mu.Unlock()
}

// wait returns a channel that is closed when the deadline passes. A
// deadline set later closes the same channel.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
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
