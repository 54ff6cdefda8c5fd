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
		c2.Write(input)
		c2.CloseWrite() // EOF after the input; the session's writes still drain
		go func() {
			buf := make([]byte, 32<<10)
			for {
				if _, err := c2.Read(buf); err != nil {
					return
				}
			}
		}()
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
