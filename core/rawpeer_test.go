package core_test

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
	"github.com/stretchr/testify/require"
)

// Wire constants, written from docs/protocol.md rather than taken from the
// package, so these tests also check the spec.
const (
	tData, tWindowUpdate, tPing, tGoAway = 0, 1, 2, 3
	fSYN, fACK, fFIN, fRST               = 1, 2, 4, 8
)

type rawFrame struct {
	ver, typ uint8
	flags    uint16
	id, len  uint32
	payload  []byte
}

func (f rawFrame) bytes() []byte {
	b := make([]byte, 12, 12+len(f.payload))
	b[0], b[1] = f.ver, f.typ
	binary.BigEndian.PutUint16(b[2:], f.flags)
	binary.BigEndian.PutUint32(b[4:], f.id)
	binary.BigEndian.PutUint32(b[8:], f.len)
	return append(b, f.payload...)
}

// rawPeer is a scripted peer speaking raw frames to a session.
type rawPeer struct {
	t    testing.TB
	conn *mem.Conn
	mu   sync.Mutex
}

// newRawPeer starts a session (server unless client is set) facing a raw
// peer. The session is closed at cleanup.
func newRawPeer(t testing.TB, client bool, cfg core.Config, opts ...mem.Option) (*core.Session, *rawPeer) {
	c1, c2 := mem.Pipe(opts...)
	var s *core.Session
	var err error
	if client {
		s, err = core.Client(c1, cfg)
	} else {
		s, err = core.Server(c1, cfg)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		c2.Close()
		s.Close()
	})
	return s, &rawPeer{t: t, conn: c2}
}

func (p *rawPeer) send(frames ...rawFrame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range frames {
		if f.ver == 0 {
			f.ver = 1
		}
		if _, err := p.conn.Write(f.bytes()); err != nil {
			return err
		}
	}
	return nil
}

// read returns the next frame from the session.
func (p *rawPeer) read() (rawFrame, error) {
	var h [12]byte
	if _, err := io.ReadFull(p.conn, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{ver: h[0], typ: h[1], flags: binary.BigEndian.Uint16(h[2:]),
		id: binary.BigEndian.Uint32(h[4:]), len: binary.BigEndian.Uint32(h[8:])}
	if f.typ == tData && f.len > 0 {
		f.payload = make([]byte, f.len)
		if _, err := io.ReadFull(p.conn, f.payload); err != nil {
			return rawFrame{}, err
		}
	}
	return f, nil
}

// readUntil reads frames until one matches, failing at EOF.
func (p *rawPeer) readUntil(match func(rawFrame) bool) rawFrame {
	p.t.Helper()
	for {
		f, err := p.read()
		require.NoError(p.t, err, "the wanted frame never came")
		if match(f) {
			return f
		}
	}
}

// readData reads frames until Data payloads of at least n bytes came,
// failing at EOF, and returns how many.
func (p *rawPeer) readData(n int) int {
	p.t.Helper()
	got := 0
	for got < n {
		f, err := p.read()
		require.NoError(p.t, err, "%d of %d data bytes came", got, n)
		if f.typ == tData {
			got += len(f.payload)
		}
	}
	return got
}

func isGoAwayFin(f rawFrame) bool { return f.typ == tGoAway && f.flags == fFIN }

func requireProtocolError(t *testing.T, s *core.Session, code core.ErrorCode) {
	t.Helper()
	<-s.Done()
	var pe *core.ProtocolError
	require.ErrorAs(t, s.Err(), &pe, "got %v", s.Err())
	require.Equal(t, code, pe.Code, "reason: %s", pe.Reason)
	require.True(t, errors.Is(s.Err(), core.ErrSessionClosed))
}
