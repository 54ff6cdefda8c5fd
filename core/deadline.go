package core

import (
	"sync"
	"time"
)

// deadline is a resettable deadline in the manner of net.Pipe's: a channel
// that is closed when the time passes and remade when the deadline moves.
// Nothing is allocated until a deadline is set.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // nil: no deadline ever set
}

// set arms the deadline; the zero time clears it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
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
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
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

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel != nil && isClosed(d.cancel)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
