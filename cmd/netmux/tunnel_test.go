package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport/mem"
)

func TestHeader(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeHeader(&b, kindTarget, "127.0.0.1:8000"))
	assert.Equal(t, []byte{1, 'T', 0, 14}, b.Bytes()[:4], "version, kind, big-endian length")
	b.WriteString("payload")
	kind, text, err := readHeader(&b)
	require.NoError(t, err)
	assert.Equal(t, byte(kindTarget), kind)
	assert.Equal(t, "127.0.0.1:8000", text)
	assert.Equal(t, "payload", b.String(), "the header is read exactly")

	assert.Error(t, writeHeader(io.Discard, kindTarget, strings.Repeat("x", headerMaxText+1)))
	_, _, err = readHeader(bytes.NewReader([]byte{2, 'T', 0, 0}))
	assert.ErrorIs(t, err, errBadHeader, "unknown version")
	_, _, err = readHeader(bytes.NewReader([]byte{1, 'T', 0xff, 0xff}))
	assert.ErrorIs(t, err, errBadHeader, "too long")
	_, _, err = readHeader(bytes.NewReader([]byte{1, 'T', 0, 5, 'a'}))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestAllowList(t *testing.T) {
	a := allowList{"127.0.0.1:8000", "*:22", "db.internal:*"}
	require.NoError(t, a.validate())
	for target, want := range map[string]bool{
		"127.0.0.1:8000":   true,
		"127.0.0.1:8001":   false,
		"10.0.0.1:22":      true,
		"DB.internal:5432": true,
		"localhost:8000":   false, // literal comparison, no resolution
		"nonsense":         false,
	} {
		assert.Equal(t, want, a.permits(target), target)
	}
	assert.True(t, allowList{"*"}.permits("example.net:443"))
	assert.False(t, allowList{}.permits("127.0.0.1:8000"))
	assert.Error(t, allowList{"8000"}.validate())
}

func TestMappingFlags(t *testing.T) {
	var l listFlag
	require.NoError(t, l.Set("web=:8001, ssh=:8022"))
	require.NoError(t, l.Set("127.0.0.1:8003"))
	named, err := parseNamed("public", l)
	require.NoError(t, err)
	assert.Equal(t, []namedAddr{{"web", ":8001"}, {"ssh", ":8022"}, {defaultMapping, "127.0.0.1:8003"}}, named)
	_, err = parseNamed("public", []string{"a=:1", "a=:2"})
	assert.ErrorContains(t, err, "twice")
	_, err = parseNamed("public", []string{"8001"})
	assert.Error(t, err)

	maps, err := parseMaps([]string{"9000=127.0.0.1:8000", ":9001=db:5432", "10.0.0.1:9002=[::1]:80"})
	require.NoError(t, err)
	assert.Equal(t, []localMap{
		{"127.0.0.1:9000", "127.0.0.1:8000"}, // a bare port is loopback, as ssh -L
		{":9001", "db:5432"},
		{"10.0.0.1:9002", "[::1]:80"},
	}, maps)
	for _, bad := range []string{"9000", "9000=8000", "x:y:z=127.0.0.1:80"} {
		_, err := parseMaps([]string{bad})
		assert.Error(t, err, bad)
	}
}

// joinFixture connects a TCP pair and a session pair with join in the
// middle: app ⇄ (TCP) ⇄ join ⇄ (stream) ⇄ peer.
func joinFixture(t *testing.T) (app *net.TCPConn, peer *core.Stream, joined chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := ln.Accept()
	require.NoError(t, err)

	c1, c2 := mem.Pipe()
	s1, err := core.Client(c1, core.DefaultConfig())
	require.NoError(t, err)
	s2, err := core.Server(c2, core.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s1.Close(); s2.Close() })
	st, err := s1.OpenStream(context.Background())
	require.NoError(t, err)
	_, err = st.Write([]byte("x")) // so the peer sees the stream
	require.NoError(t, err)
	peer, err = s2.AcceptStream(context.Background())
	require.NoError(t, err)
	one := make([]byte, 1)
	_, err = io.ReadFull(peer, one)
	require.NoError(t, err)

	joined = make(chan error, 1)
	go func() { joined <- join(b, st) }()
	return a.(*net.TCPConn), peer, joined
}

func TestJoinHalfClose(t *testing.T) {
	app, peer, joined := joinFixture(t)

	_, err := app.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, app.CloseWrite())
	got, err := io.ReadAll(peer) // the app's FIN arrives as the stream's EOF
	require.NoError(t, err)
	assert.Equal(t, "request", string(got))

	// The other direction still works after the half-close.
	_, err = peer.Write([]byte("response"))
	require.NoError(t, err)
	require.NoError(t, peer.CloseWrite())
	got, err = io.ReadAll(app) // the stream's FIN arrives as TCP EOF
	require.NoError(t, err)
	assert.Equal(t, "response", string(got))
	assert.NoError(t, <-joined)
}

func TestJoinResetAbortsConnection(t *testing.T) {
	app, peer, joined := joinFixture(t)
	require.NoError(t, peer.Reset(codeDialFailed))
	_, err := io.ReadAll(app)
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "a reset stream resets the TCP connection: %v", err)
	assert.Error(t, <-joined)
}

func TestJoinConnectionResetResetsStream(t *testing.T) {
	app, peer, joined := joinFixture(t)
	require.NoError(t, app.SetLinger(0))
	require.NoError(t, app.Close()) // TCP RST
	_, err := io.ReadAll(peer)
	var se *core.StreamError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, codeAborted, se.Code)
	assert.Error(t, <-joined)
}
