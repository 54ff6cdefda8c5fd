package parked_test

import (
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/internal/parked"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

//go:noinline
func blockOn(ch chan struct{}) { <-ch }

//go:noinline
func spin(stop *sync.WaitGroup, done chan struct{}) {
	stop.Done()
	for {
		select {
		case <-done:
			return
		default:
		}
	}
}

const fn = "github.com/netmux/netmux/internal/parked_test.blockOn"

func TestWaitSeesParkedGoroutines(t *testing.T) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { blockOn(ch) })
	wg.Go(func() { blockOn(ch) })
	require.NoError(t, parked.Wait(10*time.Second, fn, fn))
	assert.Equal(t, 2, parked.Count(fn))
	close(ch)
	wg.Wait()
	assert.Equal(t, 0, parked.Count(fn))
	err := parked.Wait(10*time.Millisecond, fn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "blockOn (0 of 1)")
}

func TestRunningIsNotParked(t *testing.T) {
	var started sync.WaitGroup
	started.Add(1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { spin(&started, done) })
	started.Wait()
	// A goroutine busy in a loop may be running or runnable, never
	// waiting: it must not count as parked.
	assert.Equal(t, 0, parked.Count("github.com/netmux/netmux/internal/parked_test.spin"))
	close(done)
	wg.Wait()
}
