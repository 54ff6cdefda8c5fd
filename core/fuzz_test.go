package core_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/require"
)

func seedTraffic() [][]byte {
	cat := func(frames ...rawFrame) []byte {
		var b bytes.Buffer
		for _, f := range frames {
			if f.ver == 0 {
				f.ver = 1
			}
			b.Write(f.bytes())
		}
		return b.Bytes()
	}
	return [][]byte{
		cat(rawFrame{typ: tPing, flags: fSYN, len: 1}),
		cat(rawFrame{typ: tPing, flags: fSYN, len: 1},
			rawFrame{typ: tWindowUpdate, flags: fSYN, id: 1, len: 1 << 20},
			rawFrame{typ: tData, id: 1, len: 5, payload: []byte("hello")},
			rawFrame{typ: tWindowUpdate, flags: fFIN, id: 1}),
		cat(rawFrame{typ: tData, flags: fSYN | fFIN, id: 3, len: 2, payload: []byte("hi")},
			rawFrame{typ: tWindowUpdate, flags: fRST, id: 3, len: 5},
			rawFrame{typ: tPing, flags: fACK, len: 1},
			rawFrame{typ: tGoAway}),
		cat(rawFrame{typ: tWindowUpdate, flags: fSYN, id: 1},
			rawFrame{typ: tWindowUpdate, flags: fACK, id: 2, len: 10},
			rawFrame{typ: tGoAway, flags: fFIN}),
	}
}

// FuzzSessionInput feeds arbitrary bytes to a server session: it must end
// (with an error or a clean close), never panic or hang, and leave no
// goroutine behind (Close joins them; goleak checks at exit).
func FuzzSessionInput(f *testing.F) {
	for _, s := range seedTraffic() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		c1, c2 := mem.Pipe()
		cfg := core.DefaultConfig()
		cfg.CloseTimeout = time.Second
		s, err := core.Server(c1, cfg)
		require.NoError(t, err)
		go func() { // accept and drain whatever streams the input opens
			for {
				st, err := s.AcceptStream(t.Context())
				if err != nil {
					return
				}
				st.CloseRead()
				st.Close()
			}
		}()
		go func() { // drain what the session sends, so it never backs up
			buf := make([]byte, 32<<10)
			for {
				if _, err := c2.Read(buf); err != nil {
					return
				}
			}
		}()
		c2.Write(input)
		c2.CloseWrite() // EOF after the input; the session's writes still drain
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end after EOF")
		}
		require.Error(t, s.Err())
		require.NoError(t, s.Close())
		c2.Close()
	})
}

// FuzzSessionScript builds a frame sequence from a fuzzed script, so the
// fuzzer reaches deep stream states (open, data, half-close, reset, credit,
// pings, GoAway) instead of failing at the first header: each step takes
// four bytes (op, stream, flags, size). The application side accepts,
// reads a little, writes a little and closes streams at random too.
func FuzzSessionScript(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 1, 1, 0, 10, 3, 1, 0, 0})
	f.Add([]byte{0, 1, 0, 0, 1, 1, 4, 200, 2, 1, 0, 0, 4, 0, 0, 0, 5, 0, 4, 0})
	f.Add([]byte{0, 3, 0, 0, 0, 5, 0, 0, 3, 3, 0, 7, 1, 5, 0, 255, 6, 0, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		c1, c2 := mem.Pipe()
		cfg := core.DefaultConfig()
		cfg.CloseTimeout = time.Second
		s, err := core.Server(c1, cfg)
		require.NoError(t, err)
		go func() {
			for i := 0; ; i++ {
				st, err := s.AcceptStream(t.Context())
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 100)
					st.Read(buf)
					if i%2 == 0 {
						st.Write(buf[:i%100])
						st.CloseWrite()
					}
					if i%3 == 0 {
						st.Reset(core.ErrorCode(i))
					}
					st.Close()
				}()
			}
		}()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				if _, err := c2.Read(buf); err != nil {
					return
				}
			}
		}()
		var out []byte
		payload := make([]byte, 1024)
		for i := 0; i+4 <= len(script); i += 4 {
			op, sid, fl, size := script[i], uint32(script[i+1]&15), uint16(script[i+2]&15), uint32(script[i+3])*4
			var fr rawFrame
			switch op % 7 {
			case 0:
				fr = rawFrame{typ: tWindowUpdate, flags: fSYN | fl&^fACK, id: sid*2 + 1, len: size}
			case 1:
				n := min(size, uint32(len(payload)))
				fr = rawFrame{typ: tData, flags: fl &^ fRST, id: sid*2 + 1, len: n, payload: payload[:n]}
			case 2:
				fr = rawFrame{typ: tWindowUpdate, flags: fl, id: sid*2 + 1, len: size}
			case 3:
				fr = rawFrame{typ: tWindowUpdate, flags: fRST, id: sid*2 + 1, len: size}
			case 4:
				fr = rawFrame{typ: tPing, flags: fSYN << (fl & 1), len: size}
			case 5:
				fr = rawFrame{typ: tGoAway, flags: fl & fFIN, len: size % 8}
			default:
				fr = rawFrame{typ: tWindowUpdate, flags: fACK, id: sid*2 + 2, len: size}
			}
			fr.ver = 1
			out = append(out, fr.bytes()...)
		}
		c2.Write(out)
		c2.CloseWrite()
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end after EOF")
		}
		require.NoError(t, s.Close())
		c2.Close()
	})
}
