package core

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLifeOnlyGains checks mark's contract: it returns the life before
// and never takes a bit away.
func TestLifeOnlyGains(t *testing.T) {
	var st Stream
	assert.Equal(t, life(0), st.mark(lifeFinQueued))
	assert.Equal(t, lifeFinQueued, st.mark(lifeFinSent|lifeFinQueued))
	assert.True(t, st.is(lifeFinSent))
	assert.True(t, st.is(lifeReset|lifeFinSent), "is reports any of the bits")
	assert.False(t, st.is(lifeReset|lifeClosed))
}

// TestHalvesEndingTogetherForgetOnce ends a stream's two halves at the
// same moment from two goroutines, as the writer (our FIN written) and
// the reader (the peer's FIN) do: whichever comes second must see both
// and forget the stream, exactly once.
func TestHalvesEndingTogetherForgetOnce(t *testing.T) {
	c, sc := tcpPair(t)
	cli, _ := sessionPair(t, c, sc, DefaultConfig())
	for i := range 2000 {
		id := uint32(1_000_001 + 2*i)
		st := newStream(cli, id, initialCredit)
		st.mark(lifeAcked | lifeAccepted)
		cli.mu.Lock()
		cli.streams[id] = st
		cli.mu.Unlock()

		var start, done sync.WaitGroup
		start.Add(1)
		for _, half := range []life{lifeSendDone, lifeRecvDone} {
			done.Go(func() {
				start.Wait()
				st.setDone(half)
			})
		}
		start.Done()
		done.Wait()
		require.True(t, st.is(lifeRemoved), "stream %d: both halves ended, never forgotten", id)
		cli.mu.Lock()
		_, held := cli.streams[id]
		cli.mu.Unlock()
		require.False(t, held, "stream %d: still in the session's table", id)
	}
	assert.Equal(t, 0, cli.NumStreams())
}
