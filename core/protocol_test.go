package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every protocol violation ends the session with GoAway|FIN carrying the
// code, and Err says what was wrong.
func TestProtocolViolations(t *testing.T) {
	cases := []struct {
		name   string
		code   core.ErrorCode
		frames []rawFrame
	}{
		{"bad version", core.CodeProtocol, []rawFrame{{ver: 7, typ: tPing, flags: fSYN}}},
		{"unknown type", core.CodeProtocol, []rawFrame{{typ: 9}}},
		{"reserved flag", core.CodeProtocol, []rawFrame{{typ: tData, flags: 0x100, id: 1}}},
		{"data on stream 0", core.CodeProtocol, []rawFrame{{typ: tData}}},
		{"ping on a stream", core.CodeProtocol, []rawFrame{{typ: tPing, flags: fSYN, id: 3}}},
		{"ping without SYN or ACK", core.CodeProtocol, []rawFrame{{typ: tPing}}},
		{"SYN with the server's parity", core.CodeProtocol, []rawFrame{{typ: tWindowUpdate, flags: fSYN, id: 2}}},
		{"duplicate SYN", core.CodeProtocol, []rawFrame{
			{typ: tWindowUpdate, flags: fSYN, id: 5}, {typ: tWindowUpdate, flags: fSYN, id: 5}}},
		{"SYN below the highest", core.CodeProtocol, []rawFrame{
			{typ: tWindowUpdate, flags: fSYN, id: 5}, {typ: tWindowUpdate, flags: fSYN, id: 3}}},
		{"frame for a never-opened stream", core.CodeProtocol, []rawFrame{{typ: tWindowUpdate, id: 9, len: 1}}},
		{"RST on a Data frame", core.CodeProtocol, []rawFrame{{typ: tData, flags: fRST, id: 1}}},
		{"data beyond credit on SYN", core.CodeFlowControl, []rawFrame{
			{typ: tData, flags: fSYN, id: 1, len: 0xffffffff}}},
		{"data beyond credit cumulatively", core.CodeFlowControl, []rawFrame{
			{typ: tWindowUpdate, flags: fSYN, id: 1},
			{typ: tData, id: 1, len: 200 << 10, payload: make([]byte, 200<<10)},
			{typ: tData, id: 1, len: 100 << 10, payload: make([]byte, 100<<10)}}},
		{"window update overflow", core.CodeFlowControl, []rawFrame{
			{typ: tWindowUpdate, flags: fSYN, id: 1, len: 0xffffffff}}},
		{"data after FIN", core.CodeProtocol, []rawFrame{
			{typ: tWindowUpdate, flags: fSYN | fFIN, id: 1},
			{typ: tData, id: 1, len: 1, payload: []byte{1}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, peer := newRawPeer(t, false, core.DefaultConfig())
			// The session may close before the last frame is fully written.
			_ = peer.send(append([]rawFrame{{typ: tPing, flags: fSYN, len: 1}}, c.frames...)...)
			goAway := peer.readUntil(isGoAwayFin)
			assert.Equal(t, uint32(c.code), goAway.len, "GoAway code")
			requireProtocolError(t, s, c.code)
		})
	}
}

// Frames a peer may legitimately send in flight are handled quietly.
func TestHarmlessFrames(t *testing.T) {
	s, peer := newRawPeer(t, false, core.DefaultConfig())
	require.NoError(t, peer.send(
		rawFrame{typ: tPing, flags: fACK, len: 12345},               // unsolicited pong
		rawFrame{typ: tGoAway},                                      // drain: refuse our opens
		rawFrame{typ: tWindowUpdate, flags: fSYN, id: 1},            // open
		rawFrame{typ: tWindowUpdate, flags: fRST, id: 1, len: 5},    // and reset it
		rawFrame{typ: tData, id: 1, len: 3, payload: []byte("old")}, // in flight: dropped
		rawFrame{typ: tWindowUpdate, id: 1, len: 100},               // in flight: dropped
		rawFrame{typ: tData, flags: fSYN | fFIN, id: 3, len: 2, payload: []byte("hi")},
		rawFrame{typ: tPing, flags: fSYN, len: 99},
	))
	pong := peer.readUntil(func(f rawFrame) bool { return f.typ == tPing && f.flags == fACK })
	assert.Equal(t, uint32(99), pong.len)
	st, err := s.AcceptStream(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, uint32(3), st.ID(), "the reset stream was skipped")
	buf := make([]byte, 2)
	_, err = st.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
	_, err = s.OpenStream(ctxT(t))
	require.ErrorIs(t, err, core.ErrGoAway)
	require.NoError(t, s.Err())
}

// Streams past MaxStreams or a full accept backlog are refused with RST
// and the session never holds more than the limit.
func TestInboundLimits(t *testing.T) {
	for _, c := range []struct {
		name           string
		cfg            func(*core.Config)
		opens, accepts int
	}{
		{"max-streams", func(c *core.Config) { c.MaxStreams = 4 }, 20, 4},
		{"accept-backlog", func(c *core.Config) {}, 270, core.DefaultConfig().AcceptBacklog},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := core.DefaultConfig()
			c.cfg(&cfg)
			s, peer := newRawPeer(t, false, cfg)
			opens := c.opens
			for i := range opens {
				require.NoError(t, peer.send(rawFrame{typ: tWindowUpdate, flags: fSYN, id: uint32(2*i + 1)}))
			}
			refused := 0
			for refused < opens-c.accepts {
				f := peer.readUntil(func(f rawFrame) bool { return f.flags&fRST != 0 })
				assert.Equal(t, uint32(core.CodeRefused), f.len)
				assert.Greater(t, f.id, uint32(2*c.accepts-1), "the first streams were admitted")
				refused++
			}
			assert.Equal(t, c.accepts, s.NumStreams())
			assert.Equal(t, uint64(opens-c.accepts), s.Stats().StreamsRefused)
			require.NoError(t, s.Err())
		})
	}
}

// Past the limit TryOpenStream fails fast, and OpenStream waits until its
// context ends.
func TestOpenPastLimit(t *testing.T) {
	client, _ := pair(t, func(c *core.Config) { c.MaxStreams = 2 })
	for range 2 {
		_, err := client.OpenStream(ctxT(t))
		require.NoError(t, err)
	}
	_, err := client.TryOpenStream()
	require.ErrorIs(t, err, core.ErrStreamLimit)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = client.OpenStream(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 2, client.NumStreams())
}

// A peer that floods pings and never reads ends the session once the
// control queue is full, with bounded memory.
func TestPingFloodWithoutReading(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.MaxControlFrames = 64
	cfg.WriteTimeout = 300 * time.Millisecond
	s, peer := newRawPeer(t, false, cfg, mem.WithBufferSize(4096))
	go func() {
		for i := range 100_000 {
			if peer.send(rawFrame{typ: tPing, flags: fSYN, len: uint32(i)}) != nil {
				return
			}
		}
	}()
	<-s.Done()
	// Whichever notices first: the stuck writer, or the full queue.
	var pe *core.ProtocolError
	if !errors.Is(s.Err(), core.ErrWriteTimeout) {
		require.ErrorAs(t, s.Err(), &pe)
		assert.Equal(t, core.CodeEnhanceYourCalm, pe.Code)
	}
	assert.LessOrEqual(t, s.Stats().ControlQueue, 64)
}

// A burst of control frames from a peer that reads them is not a flood.
func TestControlBurstFromReadingPeer(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.MaxControlFrames = 16
	s, peer := newRawPeer(t, false, cfg)
	peer.drain()
	require.NoError(t, s.GoAway())
	frames := make([]rawFrame, 5000)
	for i := range frames {
		frames[i] = rawFrame{typ: tWindowUpdate, flags: fSYN, id: uint32(2*i + 1)}
	}
	require.NoError(t, peer.send(frames...))
	require.Eventually(t, func() bool { return s.Stats().StreamsRefused == 5000 }, testTimeout, time.Millisecond)
	require.NoError(t, s.Err())
}

// A transport that stops taking writes ends the session with
// ErrWriteTimeout, and Close still returns.
func TestWriteTimeout(t *testing.T) {
	cfg := core.DefaultConfig()
	cfg.WriteTimeout = 50_000_000 // 50ms
	s, _ := newRawPeer(t, false, cfg, mem.WithBufferSize(1024))
	st, err := s.OpenStream(ctxT(t))
	require.NoError(t, err)
	_, err = st.Write(make([]byte, 200<<10)) // more than the pipe holds; nobody reads
	require.Error(t, err)
	<-s.Done()
	require.ErrorIs(t, s.Err(), core.ErrWriteTimeout)
	require.NoError(t, s.Close())
}
