package conformance

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Attack checks: a hostile peer (raw frames, any header, reads withheld
// at will) against a server session, one check per attack class of
// peers.md §3. Floods send floodFrames frames; bounds do not grow with it.

const floodFrames = 100_000

var attackChecks = []check{
	{"A01RapidReset", checkRapidReset},
	{"A02MadeYouReset", checkMadeYouReset},
	{"A03PingFlood", checkPingFlood},
	{"A04ResetFlood", checkResetFlood},
	{"A05Unsolicited", checkUnsolicited},
	{"A06EmptyFrames", checkEmptyFrames},
	{"A07CreditDribble", checkCreditDribble},
	{"A08SlowRead", checkSlowRead},
	{"A09ZeroWindow", checkZeroWindow},
	{"A10WindowOverflow", checkWindowOverflow},
	{"A11BeyondCredit", checkBeyondCredit},
	{"A12OversizedLength", checkOversizedLength},
	{"A13SynFlood", checkSynFlood},
	{"A14StreamIDMisuse", checkStreamIDMisuse},
	{"A15InvalidHeader", checkInvalidHeader},
	{"A16Truncated", checkTruncated},
	{"A17RejectionLeaks", checkRejectionLeaks},
	{"A18WriteOverflow", checkWriteOverflow},
	{"A19PeerIgnoresClose", checkPeerIgnoresClose},
	{"A20KeepaliveUnderLoad", checkKeepaliveUnderLoad},
}

// RunAttacks runs only the hostile-peer checks.
func RunAttacks(t *testing.T, mp MakePipe, opts ...Option) {
	runChecks(t, mp, attackChecks, opts)
}

// Bounds every attack check holds the victim to.
const (
	maxGoroutineGrowth = 8
	maxHeapGrowth      = 64 << 20
)

// attack starts a victim server session and a hostile client peer that
// has sent its preface.
func (e *env) attack(mod ...func(*core.Config)) (*HostilePeer, *Victim) {
	c1, c2 := e.pipe()
	cfg := e.config()
	cfg.KeepAliveInterval = 0 // the peer answers nothing; keepalive is its own check
	cfg.CloseTimeout = 500 * time.Millisecond
	for _, m := range mod {
		m(&cfg)
	}
	peer := NewHostilePeer(c1)
	e.track(peer)
	require.NoError(e, peer.Send(Frame{Type: TypePing, Flags: FlagSYN, Length: 1}))
	sess, err := core.Server(c2, cfg)
	require.NoError(e, err)
	e.track(sess)
	return peer, Observe(sess)
}

// flood sends n frames built by f, in batches, stopping at the first error
// (the victim hung up).
func (p *HostilePeer) flood(n int, f func(i int) Frame) {
	const batch = 256
	frames := make([]Frame, 0, batch)
	for i := 0; i < n; i++ {
		frames = append(frames, f(i))
		if len(frames) == batch || i == n-1 {
			if p.Send(frames...) != nil {
				return
			}
			frames = frames[:0]
		}
	}
}

// requireEndedWith waits for the victim to end with a protocol error of
// code, and checks the bounds.
func (e *env) requireEndedWith(v *Victim, code core.ErrorCode) {
	err := v.Ended(e.opts.timeout / 2)
	require.Error(e, err, "the session survived the attack")
	var pe *core.ProtocolError
	require.ErrorAs(e, err, &pe, "ended with %v", err)
	assert.Equal(e, code, pe.Code, "reason: %s", pe.Reason)
	e.requireBounded(v)
}

// absorbed waits until the victim has read the n frames of a flood, has
// filled its control queue (from there a well-behaved victim holds, or
// ends the session), or has ended, and returns its error (nil if it is
// still running).
func (e *env) absorbed(v *Victim, n int) error {
	limit := e.config().MaxControlFrames
	require.Eventually(e, func() bool {
		st := v.Stats()
		return st.FramesReceived >= uint64(n) || st.ControlQueue >= limit || v.Err() != nil
	}, e.opts.timeout/2, time.Millisecond, "the victim neither read all %d frames nor filled its control queue", n)
	return v.Err()
}

func (e *env) requireBounded(v *Victim) {
	// Goroutines that have just delivered their result (a check's own
	// writers, a deadline timer's callback) may not have exited yet: the
	// count must come down within a second. One that stays is a leak.
	growth := v.GoroutineGrowth()
	for deadline := time.Now().Add(time.Second); growth > maxGoroutineGrowth && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		growth = v.GoroutineGrowth()
	}
	assert.LessOrEqual(e, growth, maxGoroutineGrowth, "goroutines grew")
	assert.LessOrEqual(e, v.HeapGrowth(), int64(maxHeapGrowth), "heap grew")
}

// requireHealthy checks the victim still serves a new stream.
func (e *env) requireHealthy(p *HostilePeer, v *Victim, id uint32) {
	require.NoError(e, v.Err(), "the session ended")
	require.NoError(e, p.Send(Frame{Type: TypeData, Flags: FlagSYN | FlagFIN, StreamID: id, Length: 2, Payload: []byte("ok")}))
	st, err := v.AcceptStream(e.ctx())
	require.NoError(e, err)
	got, err := io.ReadAll(st)
	require.NoError(e, err)
	assert.Equal(e, "ok", string(got))
	st.Close()
}

func checkRapidReset(e *env) {
	peer, v := e.attack()
	peer.Drain()
	go peer.flood(floodFrames, func(i int) Frame {
		if i%2 == 0 {
			return Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: uint32(i + 1)}
		}
		return Frame{Type: TypeWindowUpdate, Flags: FlagRST, StreamID: uint32(i), Length: 8}
	})
	e.requireEndedWith(v, core.CodeEnhanceYourCalm)
	assert.LessOrEqual(e, v.Stats().AcceptQueue, e.config().AcceptBacklog)
}

func checkMadeYouReset(e *env) {
	// Per-stream violations are session-fatal: the peer cannot make us do
	// unbounded work by provoking resets.
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(
		Frame{Type: TypeWindowUpdate, Flags: FlagSYN | FlagFIN, StreamID: 1},
		Frame{Type: TypeData, StreamID: 1, Length: 4, Payload: []byte("late")}))
	e.requireEndedWith(v, core.CodeProtocol)
}

func checkPingFlood(e *env) {
	peer, v := e.attack()
	go peer.flood(floodFrames, func(i int) Frame { return Frame{Type: TypePing, Flags: FlagSYN, Length: uint32(i)} })
	// Never read: pongs back up. Either the queue stays bounded or the
	// session ends with ENHANCE_YOUR_CALM.
	if err := e.absorbed(v, 1+floodFrames); err != nil {
		var pe *core.ProtocolError
		require.ErrorAs(e, err, &pe)
		assert.Equal(e, core.CodeEnhanceYourCalm, pe.Code)
	}
	assert.LessOrEqual(e, v.Stats().ControlQueue, e.config().MaxControlFrames)
	e.requireBounded(v)
}

func checkResetFlood(e *env) {
	// Each SYN past the stream limit makes us send an RST; the peer never
	// reads them.
	peer, v := e.attack(func(c *core.Config) { c.MaxStreams = 1 })
	go peer.flood(floodFrames, func(i int) Frame {
		return Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: uint32(2*i + 1)}
	})
	if err := e.absorbed(v, 1+floodFrames); err != nil {
		var pe *core.ProtocolError
		require.ErrorAs(e, err, &pe)
		assert.Equal(e, core.CodeEnhanceYourCalm, pe.Code)
	}
	assert.LessOrEqual(e, v.Stats().ControlQueue, e.config().MaxControlFrames)
	assert.LessOrEqual(e, v.NumStreams(), 1)
	e.requireBounded(v)
}

func checkUnsolicited(e *env) {
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}))
	st, err := v.AcceptStream(e.ctx())
	require.NoError(e, err)
	peer.flood(floodFrames, func(i int) Frame {
		switch i % 4 {
		case 0:
			return Frame{Type: TypePing, Flags: FlagACK, Length: uint32(i) + 1<<31} // unknown pong
		case 1:
			return Frame{Type: TypeWindowUpdate, Flags: FlagACK, StreamID: 1} // repeated ACK
		case 2:
			return Frame{Type: TypeGoAway} // repeated drain
		default:
			return Frame{Type: TypeWindowUpdate, Flags: FlagACK, StreamID: 1, Length: 0}
		}
	})
	// Handled in O(1), nothing queued, the stream still works.
	e.requireHealthy(peer, v, 3)
	assert.LessOrEqual(e, v.Stats().ControlQueue, 2, "unsolicited frames queue nothing (the new stream's ACK may still be queued)")
	st.Close()
	e.requireBounded(v)
}

func checkEmptyFrames(e *env) {
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}))
	go peer.flood(floodFrames, func(int) Frame { return Frame{Type: TypeData, StreamID: 1} })
	e.requireEndedWith(v, core.CodeEnhanceYourCalm)
}

func checkCreditDribble(e *env) {
	peer, v := e.attack()
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}))
	st, err := v.AcceptStream(e.ctx())
	require.NoError(e, err)
	go st.Write(make([]byte, 1<<20))
	got := 0
	for got < 256<<10 {
		f, err := peer.Read()
		require.NoError(e, err)
		if f.Type == TypeData {
			got += len(f.Payload)
		}
	}
	for range 8000 {
		require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, StreamID: 1, Length: 1}))
	}
	f, err := peer.ReadUntil(func(f Frame) bool { return f.Type == TypeData })
	require.NoError(e, err)
	assert.GreaterOrEqual(e, len(f.Payload), 4<<10, "no tiny frames while more data waits")
	st.Reset(core.CodeCancel)
	e.requireBounded(v)
}

func checkSlowRead(e *env) {
	// The peer grants huge windows and stops reading: writes block (or time
	// out), the session buffers little, and Close still returns.
	peer, v := e.attack(func(c *core.Config) { c.WriteTimeout = 2 * time.Second })
	var streams []*core.Stream
	for i := range 20 {
		id := uint32(2*i + 1)
		require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: id, Length: 64 << 20}))
		st, err := v.AcceptStream(e.ctx())
		require.NoError(e, err)
		streams = append(streams, st)
	}
	errs := make(chan error, len(streams))
	for _, st := range streams {
		st.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		go func() {
			_, err := st.Write(make([]byte, 8<<20))
			errs <- err
		}()
	}
	for range streams {
		assert.Error(e, <-errs, "a write into a peer that never reads must block and fail")
	}
	e.requireBounded(v)
	start := time.Now()
	v.Close()
	assert.Less(e, time.Since(start), 5*time.Second, "Close is bounded even when writes are stuck")
}

func checkWindowOverflow(e *env) {
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(
		Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1, Length: 0xFFFFFFFF}))
	e.requireEndedWith(v, core.CodeFlowControl)
}

func checkBeyondCredit(e *env) {
	// Data beyond credit on the very first SYN frame (the rust-yamux panic).
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(Frame{Type: TypeData, Flags: FlagSYN, StreamID: 1, Length: 300 << 10}))
	// No payload follows: the check happens on the header alone.
	e.requireEndedWith(v, core.CodeFlowControl)
}

func checkOversizedLength(e *env) {
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1},
		Frame{Type: TypeData, StreamID: 1, Length: 0xFFFFFFFF}))
	e.requireEndedWith(v, core.CodeFlowControl) // right after the header, nothing allocated
}

func checkSynFlood(e *env) {
	const limit = 64
	peer, v := e.attack(func(c *core.Config) { c.MaxStreams = limit })
	peer.Drain()
	peer.flood(limit+10_000, func(i int) Frame {
		return Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: uint32(2*i + 1)}
	})
	require.Eventually(e, func() bool { return v.Stats().StreamsRefused >= 10_000 },
		e.opts.timeout/2, time.Millisecond, "extra SYNs are refused")
	require.NoError(e, v.Err(), "the session stays up")
	assert.LessOrEqual(e, v.NumStreams(), limit)
	e.requireBounded(v)
}

func checkStreamIDMisuse(e *env) {
	for _, c := range []struct {
		name   string
		frames []Frame
	}{
		{"SYNOnStream0", []Frame{{Type: TypeWindowUpdate, Flags: FlagSYN}}},
		{"WrongParity", []Frame{{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 2}}},
		{"DuplicateSYN", []Frame{{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}, {Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}}},
		{"ReusedID", []Frame{{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 5}, {Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 3}}},
		{"NeverOpened", []Frame{{Type: TypeData, StreamID: 7, Length: 1, Payload: []byte{1}}}},
	} {
		peer, v := e.attack()
		peer.Drain()
		require.NoError(e, peer.Send(c.frames...), c.name)
		err := v.Ended(e.opts.timeout / 2)
		var pe *core.ProtocolError
		if assert.ErrorAs(e, err, &pe, c.name) {
			assert.Equal(e, core.CodeProtocol, pe.Code, c.name)
		}
	}
}

func checkInvalidHeader(e *env) {
	for _, f := range []Frame{
		{Version: 9, Type: TypePing, Flags: FlagSYN},
		{Type: 7, StreamID: 1},
		{Type: TypeData, Flags: 0x40, StreamID: 1},
		{Type: TypeWindowUpdate, Flags: FlagFIN}, // FIN on stream 0
		{Type: TypePing, Flags: FlagSYN | FlagACK},
	} {
		peer, v := e.attack()
		peer.Drain()
		require.NoError(e, peer.Send(f))
		err := v.Ended(e.opts.timeout / 2)
		var pe *core.ProtocolError
		if assert.ErrorAs(e, err, &pe, "%+v", f) {
			assert.Equal(e, core.CodeProtocol, pe.Code)
		}
	}
}

func checkTruncated(e *env) {
	for _, cut := range []int{6, 12 + 10} { // half a header; half a payload
		peer, v := e.attack(func(c *core.Config) {
			c.KeepAliveInterval = 100 * time.Millisecond // carriers without a FIN
			c.KeepAliveTimeout = time.Second
		})
		require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}))
		st, err := v.AcceptStream(e.ctx())
		require.NoError(e, err)
		pending := make(chan error, 1)
		go func() {
			_, err := st.Read(make([]byte, 1))
			pending <- err
		}()
		b := Frame{Type: TypeData, StreamID: 1, Length: 20, Payload: make([]byte, 20)}.AppendTo(nil)
		require.NoError(e, peer.SendRaw(b[:cut]))
		peer.Close()
		err = v.Ended(e.opts.timeout / 2)
		require.Error(e, err, "cut at %d", cut)
		assert.False(e, errors.Is(err, core.ErrGoAway), "a truncation is not a clean close: %v", err)
		assert.Error(e, <-pending, "the pending Read fails")
		e.requireBounded(v)
	}
}

func checkRejectionLeaks(e *env) {
	peer, v := e.attack()
	peer.Drain()
	require.NoError(e, v.GoAway()) // every stream the peer opens is refused
	n := floodFrames / 2
	if e.opts.scale > 1 {
		n /= e.opts.scale
	}
	peer.flood(n, func(i int) Frame {
		return Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: uint32(2*i + 1)}
	})
	require.Eventually(e, func() bool { return v.Stats().StreamsRefused == uint64(n) || v.Err() != nil },
		e.opts.timeout/2, time.Millisecond)
	require.NoError(e, v.Err())
	require.Equal(e, uint64(n), v.Stats().StreamsRefused)
	assert.Equal(e, 0, v.NumStreams(), "refused streams leave nothing behind")
	require.NoError(e, v.Err())
	e.requireBounded(v)
}

func checkPeerIgnoresClose(e *env) {
	peer, v := e.attack(func(c *core.Config) { c.StreamCloseTimeout = 300 * time.Millisecond })
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: 1}))
	st, err := v.AcceptStream(e.ctx())
	require.NoError(e, err)
	require.NoError(e, st.Close())
	// The peer never sends FIN: the stream is reset with TIMEOUT and forgotten.
	f, err := peer.ReadUntil(func(f Frame) bool { return f.Flags&FlagRST != 0 })
	require.NoError(e, err)
	assert.Equal(e, uint32(core.CodeTimeout), f.Length)
	require.Eventually(e, func() bool { return v.NumStreams() == 0 }, e.opts.timeout/2, time.Millisecond)
	// The peer never answers GoAway: Close is bounded by CloseTimeout.
	peer.Drain()
	start := time.Now()
	v.Close()
	assert.Less(e, time.Since(start), 3*time.Second)
}

func checkKeepaliveUnderLoad(e *env) {
	// A saturated link never trips keepalive, and Ping stays quick.
	// The load outlasts the keepalive timeout (-short halves both).
	timeout := 2 * time.Second
	if testing.Short() {
		timeout = time.Second
	}
	client, server := e.sessions(func(c *core.Config) {
		c.KeepAliveInterval = 50 * time.Millisecond
		c.KeepAliveTimeout = timeout
	})
	a, b := e.streamPair(client, server)
	go io.Copy(io.Discard, b)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+timeout/4)
	defer cancel()
	go func() {
		chunk := make([]byte, 64<<10)
		for ctx.Err() == nil {
			if _, err := a.Write(chunk); err != nil {
				return
			}
		}
	}()
	var worst time.Duration
	for ctx.Err() == nil {
		rtt, err := client.Ping(e.ctx())
		require.NoError(e, err)
		worst = max(worst, rtt)
	}
	require.NoError(e, client.Err())
	require.NoError(e, server.Err())
	e.Logf("worst Ping RTT under load: %v", worst)
	assert.Less(e, worst, timeout)
	a.Close()
}
