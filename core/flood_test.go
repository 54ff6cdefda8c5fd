package core_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drain reads and discards everything the session sends to the raw peer.
func (p *rawPeer) drain() {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := p.conn.Read(buf); err != nil {
				return
			}
		}
	}()
}

// Rapid Reset: a peer opening and resetting streams as fast as it can,
// with nobody accepting, ends with ENHANCE_YOUR_CALM; goroutines and the
// accept queue stay bounded.
func TestRapidResetFlood(t *testing.T) {
	s, peer := newRawPeer(t, false, core.DefaultConfig())
	peer.drain()
	before := runtime.NumGoroutine()
	go func() {
		for i := range 100_000 {
			id := uint32(2*i + 1)
			if peer.send(rawFrame{typ: tWindowUpdate, flags: fSYN, id: id},
				rawFrame{typ: tWindowUpdate, flags: fRST, id: id, len: 8}) != nil {
				return
			}
		}
	}()
	<-s.Done()
	var pe *core.ProtocolError
	require.ErrorAs(t, s.Err(), &pe)
	assert.Equal(t, core.CodeEnhanceYourCalm, pe.Code)
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+2)
	assert.LessOrEqual(t, s.Stats().AcceptQueue, core.DefaultConfig().AcceptBacklog)
}

// Empty frames: a flood of frames that carry nothing ends the session.
func TestEmptyFrameFlood(t *testing.T) {
	s, peer := newRawPeer(t, false, core.DefaultConfig())
	peer.drain()
	require.NoError(t, peer.send(rawFrame{typ: tWindowUpdate, flags: fSYN, id: 1}))
	go func() {
		for range 100_000 {
			if peer.send(rawFrame{typ: tData, id: 1}) != nil {
				return
			}
		}
	}()
	<-s.Done()
	var pe *core.ProtocolError
	require.ErrorAs(t, s.Err(), &pe)
	assert.Equal(t, core.CodeEnhanceYourCalm, pe.Code)
}

// Data dribble: a peer returning credit a byte at a time gets no flood of
// one-byte frames: the writer waits for a worthwhile amount of credit.
func TestCreditDribble(t *testing.T) {
	s, peer := newRawPeer(t, true, core.DefaultConfig())
	st, err := s.OpenStream(ctxT(t))
	require.NoError(t, err)
	written := make(chan int, 1)
	go func() {
		n, _ := st.Write(make([]byte, 512<<10))
		written <- n
	}()
	// Read the first window's worth, then dribble 1-byte credits.
	peer.readData(256 << 10)
	for i := range 8000 {
		require.NoError(t, peer.send(rawFrame{typ: tWindowUpdate, flags: map[bool]uint16{true: fACK}[i == 0], id: st.ID(), len: 1}))
	}
	f := peer.readUntil(func(f rawFrame) bool { return f.typ == tData })
	assert.GreaterOrEqual(t, len(f.payload), 4<<10, "no tiny frames while more data waits")
	st.Close()
	<-written
}

// TestNoStrandedCredit: credit that is not a multiple of the frame size is
// used to the last byte; the writer leaves itself no remainder under the
// smallest frame it sends while more data waits.
func TestNoStrandedCredit(t *testing.T) {
	s, peer := newRawPeer(t, true, core.DefaultConfig())
	st, err := s.OpenStream(ctxT(t))
	require.NoError(t, err)
	written := make(chan struct{})
	go func() {
		defer close(written)
		st.Write(make([]byte, 1<<20))
	}()
	watchdog := time.AfterFunc(10*time.Second, func() { peer.conn.Close() })
	defer watchdog.Stop()

	require.Equal(t, 256<<10, peer.readData(256<<10), "the initial window, no more")
	const extra = 64<<10 + 100 // a full frame and 100 bytes
	require.NoError(t, peer.send(rawFrame{typ: tWindowUpdate, flags: fACK, id: st.ID(), len: extra}))
	assert.Equal(t, extra, peer.readData(extra), "credit left unused")
	st.Close()
	<-written
}
