package conformance

import (
	"fmt"
	"sync"

	"github.com/netmux/netmux/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// initialCredit is the protocol's fixed initial credit per stream
// direction (docs/protocol.md §7).
const initialCredit = 256 << 10

// maxCredit is the largest send credit a peer may grant (§3.2, §7).
const maxCredit = 1<<32 - 1

// checkWriteOverflow is attack class A18, integer overflow in write
// splitting (x/crypto/ssh once truncated a length to uint32, turning a
// 4 GiB write into an endless loop) and invalid peer parameters.
//
// The only parameter a netmux peer sends is credit (there is no settings
// exchange and no negotiated frame size). The hostile peer opens a stream
// granting the largest legal credit, 2^32-1 in all, which the victim must
// accept and use. Its application then writes 2^32 and 2^32+5 bytes (on
// Linux, from a read-only mapping of the zero page, so they cost no
// memory): each must go out as frames of 1 to MaxFrameSize bytes, keep
// moving (the progress timeout catches a write that spins), and end with
// the peer's reset. Last, credit one byte past 2^32-1 must end the session
// with FlowControl.
func checkWriteOverflow(e *env) {
	peer, v := e.attack()
	maxFrame := e.config().MaxFrameSize
	grant := func(id uint32) {
		require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagSYN, StreamID: id, Length: maxCredit - initialCredit}))
	}
	// Everything the victim sends, read on a goroutine of its own so that
	// the check can wait on the victim's Write and its frames at once.
	frames := make(chan Frame)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		peer.Close()
		wg.Wait()
	}()
	wg.Go(func() {
		defer close(frames)
		for {
			f, err := peer.Read()
			if err != nil {
				return
			}
			select {
			case frames <- f:
			case <-done:
				return
			}
		}
	})

	huge, release := hugeZeroes(1<<32 + 5)
	defer release()
	if huge == nil {
		e.Log("A18: no 4 GiB zero mapping on this platform; the write-length part is skipped")
	}
	for i, length := range []uint64{1 << 32, 1<<32 + 5} {
		if huge == nil {
			break
		}
		id := uint32(2*i + 1)
		grant(id)
		st, err := v.AcceptStream(e.ctx())
		require.NoError(e, err)
		type result struct {
			n   int
			err error
		}
		wrote := make(chan result, 1)
		go func() {
			n, err := st.Write(huge[:length])
			wrote <- result{n, err}
		}()

		want := e.size(16 << 20)
		f := newFlow(fmt.Sprintf("victim→peer on stream %d, a Write of %d bytes", id, length), want)
		stop := e.watchProgress(f)
		got := 0
		for got < want {
			select {
			case r := <-wrote:
				stop()
				e.Fatalf("a Write of %d bytes returned after the peer had read %d: n=%d err=%v", length, got, r.n, r.err)
			case fr, ok := <-frames:
				if !ok {
					stop()
					e.Fatalf("the connection ended after %d bytes of stream %d", got, id)
				}
				if fr.Type != TypeData || fr.StreamID != id {
					continue
				}
				if fr.Length == 0 || fr.Length > maxFrame {
					stop()
					e.Fatalf("a Data frame of %d bytes (the maximum is %d): the split went wrong", fr.Length, maxFrame)
				}
				got += len(fr.Payload)
				f.recvd.Add(int64(len(fr.Payload)))
			}
		}
		stop()
		require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, Flags: FlagRST, StreamID: id, Length: uint32(core.CodeCancel)}))
		var r result
		for waiting := true; waiting; { // keep reading: the victim may be blocked writing
			select {
			case r = <-wrote:
				waiting = false
			case _, ok := <-frames:
				require.True(e, ok, "the connection ended before the Write returned")
			}
		}
		var se *core.StreamError
		require.ErrorAs(e, r.err, &se, "the Write ends with the peer's reset")
		assert.GreaterOrEqual(e, r.n, want, "the Write reports what it sent")
		assert.Less(e, uint64(r.n), length)
		require.NoError(e, v.Err())
	}

	// The largest legal grant is accepted; one byte more is an error.
	grant(99)
	_, err := v.AcceptStream(e.ctx())
	require.NoError(e, err)
	require.NoError(e, v.Err())
	go func() { // drain
		for range frames {
		}
	}()
	require.NoError(e, peer.Send(Frame{Type: TypeWindowUpdate, StreamID: 99, Length: 1}))
	e.requireEndedWith(v, core.CodeFlowControl)
}
