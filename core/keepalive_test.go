package core_test

import (
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A peer that goes silent (the transport stalls without closing) ends the
// session with ErrKeepaliveTimeout within interval + timeout.
func TestKeepaliveSilentPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe()
		defer c2.Close() // the silent peer: nobody reads or writes c2
		cfg := core.DefaultConfig()
		cfg.KeepAliveInterval = 2 * time.Second
		cfg.KeepAliveTimeout = 5 * time.Second
		start := time.Now()
		sess, err := core.Client(c1, cfg)
		require.NoError(t, err)
		<-sess.Done()
		elapsed := time.Since(start)
		require.ErrorIs(t, sess.Err(), core.ErrKeepaliveTimeout)
		require.ErrorIs(t, sess.Err(), core.ErrSessionClosed)
		assert.LessOrEqual(t, elapsed, cfg.KeepAliveInterval+cfg.KeepAliveTimeout)
		assert.GreaterOrEqual(t, elapsed, cfg.KeepAliveTimeout)
		require.NoError(t, sess.Close())
	})
}

// A live but idle peer answers pings, so keepalive never fires.
func TestKeepaliveIdlePeerStaysUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe()
		cfg := core.DefaultConfig()
		cfg.KeepAliveInterval = time.Second
		cfg.KeepAliveTimeout = 3 * time.Second
		client, err := core.Client(c1, cfg)
		require.NoError(t, err)
		server, err := core.Server(c2, cfg)
		require.NoError(t, err)
		time.Sleep(time.Minute) // fake time: a minute of idleness
		synctest.Wait()
		assert.NoError(t, client.Err())
		assert.NoError(t, server.Err())
		assert.Greater(t, client.Stats().FramesReceived, uint64(50), "pings and replies flowed")
		require.NoError(t, client.Close())
		require.NoError(t, server.Close())
	})
}

// The open timeout resets a stream the peer never accepts.
func TestOpenTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe()
		cfg := core.DefaultConfig()
		cfg.OpenTimeout = 10 * time.Second
		client, err := core.Client(c1, cfg)
		require.NoError(t, err)
		server, err := core.Server(c2, cfg)
		require.NoError(t, err)
		st, err := client.OpenStream(t.Context())
		require.NoError(t, err)
		_, err = st.Read(make([]byte, 1)) // nobody accepts: reset after 10 s
		var se *core.StreamError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, core.CodeTimeout, se.Code)
		synctest.Wait()
		assert.Equal(t, 0, client.NumStreams())
		require.NoError(t, client.Close())
		require.NoError(t, server.Close())
	})
}

// A stream closed locally is reset if the peer never closes its half.
func TestStreamCloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1, c2 := mem.Pipe()
		cfg := core.DefaultConfig()
		cfg.StreamCloseTimeout = 30 * time.Second
		client, err := core.Client(c1, cfg)
		require.NoError(t, err)
		server, err := core.Server(c2, cfg)
		require.NoError(t, err)
		a, err := client.OpenStream(t.Context())
		require.NoError(t, err)
		b, err := server.AcceptStream(t.Context())
		require.NoError(t, err)
		require.NoError(t, a.Close())
		_, err = b.Read(make([]byte, 1))
		require.Equal(t, io.EOF, err)
		synctest.Wait()
		require.Equal(t, 1, client.NumStreams(), "waiting for the peer's FIN")
		time.Sleep(31 * time.Second)
		synctest.Wait()
		assert.Equal(t, 0, client.NumStreams())
		assert.Equal(t, 0, server.NumStreams(), "the peer got the RST")
		_, err = b.Write([]byte("late"))
		var se *core.StreamError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, core.CodeTimeout, se.Code)
		require.NoError(t, client.Close())
		require.NoError(t, server.Close())
	})
}

// A saturated bulk transfer never trips keepalive: any frame is liveness
// and pings go ahead of data.
func TestKeepaliveBusyPeer(t *testing.T) {
	client, server := pair(t, func(c *core.Config) {
		c.KeepAliveInterval = 20 * time.Millisecond
		c.KeepAliveTimeout = 2 * time.Second
	})
	a, b := streamPair(t, client, server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := make([]byte, 256<<10)
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if _, err := a.Write(chunk); err != nil {
				return
			}
		}
		a.CloseWrite()
	}()
	_, err := io.Copy(io.Discard, b)
	require.NoError(t, err)
	<-done
	require.NoError(t, client.Err())
	require.NoError(t, server.Err())
	rtt, err := client.Ping(ctxT(t))
	require.NoError(t, err)
	assert.Less(t, rtt, time.Second)
}
