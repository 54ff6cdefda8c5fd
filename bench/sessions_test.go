package main

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionsShort holds a few idle session pairs of each library: all
// must be established (runSessions fails otherwise) and each end must
// hold at least one goroutine (its reader). The memory per end is a
// measurement, not asserted: over 50 pairs a lighter library's few KiB
// are within the heap's noise (yamux once measured -6.9 KiB per end).
func TestSessionsShort(t *testing.T) {
	p := shortParams()
	for _, name := range []string{"netmux", "yamux", "smux-v1", "smux-v2"} {
		t.Run(name, func(t *testing.T) {
			m, err := newMux(name)
			require.NoError(t, err)
			res, err := runOnce(m, sessionsScenario, p)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, res["goroutines_per_end"], 0.9)
			assert.Less(t, res["goroutines_per_end"], 10.0)
			assert.Positive(t, res["sessions_per_sec"])
			assert.EqualValues(t, p.SessionPairs, res["pairs"], "pairs held")
		})
	}
}

func TestRaiseFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	got, err := raiseFileLimit(lim.Cur)
	require.NoError(t, err, "a limit already met")
	assert.Equal(t, lim.Cur, got)
	var after syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after))
	assert.Equal(t, lim, after)

	n, err := pairsWithin(10)
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	// More pairs than any limit allows: as many as fit, fewer than asked.
	n, err = pairsWithin(1 << 30)
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Less(t, n, 1<<30)
}
