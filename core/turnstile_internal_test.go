package core

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call waiting for its turn gives up at its own deadline while the
// holder keeps the turn; the turn then passes on as calls leave.
func TestTurnstile(t *testing.T) {
	var mu sync.Mutex
	var ts turnstile
	var none, soon deadline
	mu.Lock()
	require.NoError(t, ts.enter(&mu, &none)) // the holder
	mu.Unlock()

	soon.set(time.Now().Add(20 * time.Millisecond))
	mu.Lock()
	err := ts.enter(&mu, &soon)
	assert.ErrorIs(t, err, errDeadline, "a waiter gives up at its deadline")
	assert.True(t, ts.busy, "the holder keeps the turn")
	assert.Zero(t, ts.waiters)
	mu.Unlock()

	got := make(chan error, 1)
	go func() {
		mu.Lock()
		got <- ts.enter(&mu, &none)
		mu.Unlock()
	}()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ts.waiters == 1
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	ts.leave() // handed to the waiter
	mu.Unlock()
	require.NoError(t, <-got)
	mu.Lock()
	assert.True(t, ts.busy, "the waiter holds the turn")
	ts.leave()
	assert.False(t, ts.busy)
	mu.Unlock()
}

// A turn handed over just as the waiter's deadline passed is passed on,
// never lost.
func TestTurnstileHandoffAtDeadline(t *testing.T) {
	var mu sync.Mutex
	var ts turnstile
	var past deadline
	past.set(time.Now().Add(-time.Second))
	mu.Lock()
	ts.busy, ts.waiters, ts.turn = true, 1, make(chan struct{}, 1)
	signal(ts.turn) // the holder left while one call waited
	ts.waiters = 0
	// The waiter's deadline fired: enter sees both channels ready.
	ts.waiters++
	turn := ts.turn
	mu.Unlock()
	_ = turn
	mu.Lock()
	ts.waiters--
	select {
	case <-ts.turn:
		ts.leave()
	default:
	}
	assert.False(t, ts.busy, "the turn is free again")
	mu.Unlock()
}
