package core_test

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAllErr reads until an error and returns what it read and the error
// (nil for a clean EOF).
func readAllErr(st *core.Stream) ([]byte, error) { return io.ReadAll(st) }

func requireForgotten(t *testing.T, sessions ...*core.Session) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, s := range sessions {
			if s.NumStreams() != 0 {
				return false
			}
		}
		return true
	}, testTimeout, time.Millisecond, "both sides forget the stream")
}

func requireReset(t *testing.T, err error, code core.ErrorCode, remote bool) {
	t.Helper()
	var se *core.StreamError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, code, se.Code)
	assert.Equal(t, remote, se.Remote)
}

// Every order of FIN, RST and Close on the two ends of a stream, including
// simultaneous ones, ends with both sides forgetting the stream, the
// sessions healthy, and each call seeing the error its order implies.
func TestStreamCloseOrders(t *testing.T) {
	msg := []byte("payload")
	cases := []struct {
		name   string
		resets uint64 // resets counted by the client session
		run    func(t *testing.T, a, b *core.Stream)
	}{
		{"fin-then-fin", 0, func(t *testing.T, a, b *core.Stream) {
			_, err := a.Write(msg)
			require.NoError(t, err)
			require.NoError(t, a.CloseWrite())
			got, err := readAllErr(b)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			require.NoError(t, b.CloseWrite())
			got, err = readAllErr(a)
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{"close-then-close", 0, func(t *testing.T, a, b *core.Stream) {
			_, err := a.Write(msg)
			require.NoError(t, err)
			require.NoError(t, a.Close())
			got, err := readAllErr(b)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			require.NoError(t, b.Close())
			_, err = a.Read(make([]byte, 1))
			require.ErrorIs(t, err, core.ErrReadClosed)
		}},
		{"simultaneous-close", 0, func(t *testing.T, a, b *core.Stream) {
			var wg sync.WaitGroup
			wg.Go(func() { assert.NoError(t, a.Close()) })
			wg.Go(func() { assert.NoError(t, b.Close()) })
			wg.Wait()
		}},
		{"simultaneous-closewrite", 0, func(t *testing.T, a, b *core.Stream) {
			var wg sync.WaitGroup
			for _, st := range []*core.Stream{a, b} {
				wg.Go(func() {
					_, err := st.Write(msg)
					assert.NoError(t, err)
					assert.NoError(t, st.CloseWrite())
					got, err := readAllErr(st)
					assert.NoError(t, err)
					assert.Equal(t, msg, got)
				})
			}
			wg.Wait()
			require.NoError(t, a.Close())
			require.NoError(t, b.Close())
		}},
		{"reset-then-peer-ops", 1, func(t *testing.T, a, b *core.Stream) {
			require.NoError(t, a.Reset(42))
			_, err := b.Read(make([]byte, 1))
			requireReset(t, err, 42, true)
			_, err = b.Write(msg)
			requireReset(t, err, 42, true)
			_, err = a.Write(msg)
			requireReset(t, err, 42, false)
			require.NoError(t, b.Close())
		}},
		{"simultaneous-reset", 2, func(t *testing.T, a, b *core.Stream) {
			var wg sync.WaitGroup
			wg.Go(func() { assert.NoError(t, a.Reset(1000)) })
			wg.Go(func() { assert.NoError(t, b.Reset(2000)) })
			wg.Wait()
			_, errA := a.Read(make([]byte, 1))
			_, errB := b.Read(make([]byte, 1))
			var se *core.StreamError
			assert.ErrorAs(t, errA, &se)
			assert.ErrorAs(t, errB, &se)
		}},
		{"fin-then-reset-keeps-data", 1, func(t *testing.T, a, b *core.Stream) {
			_, err := a.Write(msg)
			require.NoError(t, err)
			sent := a.Session().Stats().FramesSent // includes the data frame
			require.NoError(t, a.CloseWrite())
			// Once the FIN is on its way, a reset (which may overtake queued
			// frames, but not written ones) must not destroy the data.
			require.Eventually(t, func() bool { return a.Session().Stats().FramesSent > sent },
				testTimeout, time.Millisecond)
			require.NoError(t, a.Reset(77))
			// b waits for the reset to arrive, then still reads the data the
			// peer finished sending, and EOF; its writes fail.
			require.Eventually(t, func() bool {
				_, err := b.Write(msg)
				return errors.As(err, new(*core.StreamError))
			}, testTimeout, time.Millisecond)
			got, err := readAllErr(b)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
		}},
		{"reset-after-data-discards", 0, func(t *testing.T, a, b *core.Stream) {
			_, err := a.Write(msg)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return a.Session().Stats().BytesSent >= uint64(len(msg)) },
				testTimeout, time.Millisecond)
			require.NoError(t, b.Reset(9)) // local reset discards the unread data
			_, err = b.Read(make([]byte, 10))
			requireReset(t, err, 9, false)
			_, err = a.Read(make([]byte, 1))
			requireReset(t, err, 9, true)
		}},
		{"close-with-unread-data-resets-peer-after-fin", 0, func(t *testing.T, a, b *core.Stream) {
			// b writes a reply, then a's data arrives unread and b closes:
			// a reads the whole reply and EOF, and its writes get CANCEL.
			_, err := b.Write(msg)
			require.NoError(t, err)
			_, err = a.Write(msg)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return b.Session().Stats().BytesReceived >= uint64(len(msg)) },
				testTimeout, time.Millisecond)
			require.NoError(t, b.Close())
			got, err := readAllErr(a)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			require.Eventually(t, func() bool {
				_, err := a.Write(msg)
				var se *core.StreamError
				return errors.As(err, &se) && se.Code == core.CodeCancel && se.Remote
			}, testTimeout, time.Millisecond)
		}},
		{"closeread-stops-credit", 0, func(t *testing.T, a, b *core.Stream) {
			require.NoError(t, b.CloseRead())
			_, err := b.Read(make([]byte, 1))
			require.ErrorIs(t, err, core.ErrReadClosed)
			require.NoError(t, a.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			n, err := a.Write(make([]byte, 1<<20))
			require.ErrorIs(t, err, errDeadlineExceeded)
			assert.Equal(t, 256<<10, n, "only the credit granted before CloseRead")
			// b can still write.
			_, err = b.Write(msg)
			require.NoError(t, err)
			require.NoError(t, b.CloseWrite())
			got, err := readAllErr(a)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			require.NoError(t, a.Reset(core.CodeCancel))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, server := pair(t)
			a, b := streamPair(t, client, server)
			c.run(t, a, b)
			a.Close()
			b.Close()
			requireForgotten(t, client, server)
			assert.NoError(t, client.Err())
			assert.NoError(t, server.Err())
			if c.resets > 0 {
				assert.GreaterOrEqual(t, client.Stats().StreamsReset+server.Stats().StreamsReset, c.resets)
			}
		})
	}
}

// Closing the session closes every stream: the peer reads what was sent,
// then an error that says the session ended.
func TestSessionCloseWithOpenStreams(t *testing.T) {
	client, server := pair(t)
	a, b := streamPair(t, client, server)
	_, err := a.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, client.Close())
	got, err := readAllErr(b)
	assert.Equal(t, "last words", string(got))
	require.ErrorIs(t, err, core.ErrSessionClosed)
	require.ErrorIs(t, err, core.ErrGoAway)
	_, err = a.Write([]byte("x"))
	require.ErrorIs(t, err, core.ErrSessionClosed)
}

// Both sides closing at once: the two GoAway|FIN frames cross, each side
// takes the peer's as the answer to its own, and both Close calls return
// at once, long before CloseTimeout, with a clean end on both sides (no
// carrier closed under a side before the peer's final GoAway).
func TestSimultaneousSessionClose(t *testing.T) {
	const closeTimeout = time.Minute // what a lost handshake would cost
	for range 20 {
		client, server := pair(t, func(c *core.Config) { c.CloseTimeout = closeTimeout })
		start := make(chan struct{})
		closed := make(chan *core.Session, 2)
		for _, s := range []*core.Session{client, server} {
			go func() {
				<-start
				assert.NoError(t, s.Close())
				closed <- s
			}()
		}
		close(start)
		timeout := time.After(testTimeout)
		for range 2 {
			select {
			case <-closed:
			case <-timeout:
				t.Fatalf("Close still waiting after %v (CloseTimeout %v): the crossing GoAway|FIN frames did not end the handshake",
					testTimeout, closeTimeout)
			}
		}
		for _, s := range []*core.Session{client, server} {
			assert.ErrorIs(t, s.Err(), core.ErrSessionClosed)
			assert.NotErrorIs(t, s.Err(), io.ErrUnexpectedEOF, "the carrier closed before the peer's final GoAway")
			var pe *core.ProtocolError
			assert.False(t, errors.As(s.Err(), &pe), "a clean close: %v", s.Err())
		}
	}
}
