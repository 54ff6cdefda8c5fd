//go:build unix

package core

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replay is a transparent wrapper that replays bytes it read ahead, as a
// listener that sniffed a preface would.
type replay struct {
	net.Conn
	head *bytes.Reader
}

func (r *replay) Read(b []byte) (int, error) {
	if r.head.Len() > 0 {
		return r.head.Read(b)
	}
	return r.Conn.Read(b)
}
func (r *replay) TransparentConn() net.Conn { return r.Conn }
func (r *replay) Buffered() int             { return r.head.Len() }

func TestCarrierIO(t *testing.T) {
	c, sc := tcpPair(t)
	sock := func(conn io.Reader) *sockIO { _, sio := carrierIO(conn); return sio }
	assert.NotNil(t, sock(c), "a TCP connection")
	assert.NotNil(t, sock(&replay{Conn: sc, head: bytes.NewReader(nil)}), "a wrapper that reports what it buffers")
	tcp, sio := carrierIO(transparent{c}) // pathrtt_internal_test.go
	assert.Same(t, c, tcp)
	assert.Nil(t, sio, "a wrapper that cannot say what it buffers is read through")
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	assert.Nil(t, sock(a), "not TCP")
}

// TestSockIOSession runs a session pair whose server reads the first
// bytes through a replaying wrapper and the rest straight from the
// socket, and checks that both ends went direct, moved the bytes intact,
// and allocate nothing per roundtrip. (Each end's reader sets direct
// before it hands over the first data it reads; the test looks once
// each has handed some over.)
func TestSockIOSession(t *testing.T) {
	c, sc := tcpPair(t)
	// Take the client's preface off the socket before the server session
	// starts, and replay it through the wrapper.
	cli, err := Client(c, DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	var pre [frameHeaderLen]byte
	_, err = io.ReadFull(sc, pre[:])
	require.NoError(t, err)
	srv, err := Server(&replay{Conn: sc, head: bytes.NewReader(pre[:])}, DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.NotNil(t, cli.sock)
	require.NotNil(t, srv.sock)

	st, err := cli.OpenStream(context.Background())
	require.NoError(t, err)
	peer, err := srv.AcceptStream(context.Background())
	require.NoError(t, err)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	got := make([]byte, len(msg))
	roundtrip := func() {
		_, err := st.Write(msg)
		require.NoError(t, err)
		_, err = io.ReadFull(peer, got)
		require.NoError(t, err)
	}
	roundtrip()
	require.Equal(t, msg, got)
	// The client's reader may not have read anything yet: an echo makes
	// sure it has (and orders its switch to direct before this read).
	_, err = peer.Write(msg)
	require.NoError(t, err)
	_, err = io.ReadFull(st, got)
	require.NoError(t, err)
	assert.True(t, srv.sock.direct, "the server reads the socket directly once the preface is replayed")
	assert.True(t, cli.sock.direct, "the client reads the socket directly from its first read")
	if raceEnabled {
		t.Log("allocations not counted: under -race sync.Pool drops some of what is put back")
		return
	}
	// The read chunk and write buffers come from pools and go back between
	// round trips (the session is idle then): none is allocated.
	assert.Zero(t, testing.AllocsPerRun(50, roundtrip), "allocations per 64 KiB write and read")
}

// TestSockIOErrors checks that a direct read sees the peer's close as
// io.EOF, and that a direct write to a reset connection fails with a
// *net.OpError, as the connection's own methods report them.
func TestSockIOErrors(t *testing.T) {
	c, sc := tcpPair(t)
	_, sio := carrierIO(sc)
	require.NotNil(t, sio)
	_, err := c.Write([]byte("hi"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := sio.read(buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf[:n]))
	require.NoError(t, c.CloseWrite())
	_, err = sio.read(buf)
	require.ErrorIs(t, err, io.EOF)

	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close()) // RST
	var werr error
	for range 100 { // the first writes may land before the RST is seen
		if werr = sio.write(make([]byte, 64<<10)); werr != nil {
			break
		}
	}
	var oe *net.OpError
	require.ErrorAs(t, werr, &oe)
	assert.Equal(t, "write", oe.Op)
}
