package core

import "sync"

// turnstile serialises the Reads (or the Writes) of one stream without a
// lock held across a wait: a call that finds another in progress waits
// for its turn or its own deadline, whichever comes first, so that a
// second Read or Write honours its deadline as a first one does. Its
// fields are guarded by the mutex its callers pass (Stream.mu for Reads,
// sendMu for Writes).
type turnstile struct {
	busy    bool          // a call holds the turn
	waiters int32         // calls waiting for the turn
	turn    chan struct{} // capacity 1: the turn handed to a waiter; made at the first wait
}

// enter takes the turn, waiting while another call holds it until the
// deadline closes (then it fails with errDeadline). Call with mu held; mu
// is held again when it returns.
func (t *turnstile) enter(mu *sync.Mutex, dl *deadline) error {
	if !t.busy {
		t.busy = true
		return nil
	}
	if t.turn == nil {
		t.turn = make(chan struct{}, 1)
	}
	t.waiters++
	turn, expired := t.turn, dl.wait()
	mu.Unlock()
	select {
	case <-turn:
		mu.Lock()
		t.waiters--
		return nil // handed over: busy stays set
	case <-expired:
	}
	mu.Lock()
	t.waiters--
	select {
	case <-turn: // handed the turn as the deadline passed: pass it on
		t.leave()
	default:
	}
	return errDeadline
}

// leave gives the turn up, handing it to a waiter if there is one. Call
// with mu held.
func (t *turnstile) leave() {
	if t.waiters > 0 {
		signal(t.turn)
		return
	}
	t.busy = false
}
