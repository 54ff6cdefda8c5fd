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

	soon.set(&mu, time.Now().Add(20*time.Millisecond))
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

// Under contention with deadlines passing, the turn is held by one call
// at a time and never lost: every call either gets it or times out, and
// it is free at the end.
func TestTurnstileContention(t *testing.T) {
	var mu sync.Mutex
	var ts turnstile
	var holders, got, expired int
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dl deadline
			mu.Lock()
			defer mu.Unlock()
			if i%2 == 0 {
				dl.set(&mu, time.Now().Add(time.Duration(i)*100*time.Microsecond))
			}
			if err := ts.enter(&mu, &dl); err != nil {
				expired++
				return
			}
			holders++
			assert.Equal(t, 1, holders, "one holder at a time")
			mu.Unlock()
			time.Sleep(100 * time.Microsecond) // hold the turn a moment
			mu.Lock()
			holders--
			got++
			ts.leave()
		}()
	}
	wg.Wait()
	assert.Equal(t, 50, got+expired)
	assert.Positive(t, got)
	assert.False(t, ts.busy, "the turn is free")
	assert.Zero(t, ts.waiters)
}
