package core

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection, closed at
// cleanup.
func tcpPair(t *testing.T) (dialed, accepted *net.TCPConn) {
	t.Helper()
	return tcpPairVia(t, nil)
}

// tcpPairVia is tcpPair with the dialer going to via(listener address)
// instead (a proxy in front of the listener), unless via is nil.
func tcpPairVia(t *testing.T, via func(addr string) string) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	addr := ln.Addr().String()
	if via != nil {
		addr = via(addr)
	}
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	sc, ok := <-got
	require.True(t, ok)
	t.Cleanup(func() { sc.Close() })
	return c.(*net.TCPConn), sc.(*net.TCPConn)
}

// sessionPair starts a client session on c and a server session on sc,
// closed at cleanup.
func sessionPair(t *testing.T, c, sc io.ReadWriteCloser, cfg Config) (cli, srv *Session) {
	t.Helper()
	cli, err := Client(c, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	srv, err = Server(sc, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return cli, srv
}

// holdTransport makes the test the session's writer: it takes
// sender.busy, so Writes queue instead of writing, until
// releaseTransport.
func holdTransport(t *testing.T, s *Session) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.sendMu.Lock()
		defer s.sendMu.Unlock()
		if s.sender.busy {
			return false
		}
		s.sender.busy = true
		return true
	}, 10*time.Second, time.Millisecond)
}

// releaseTransport hands the transport back after holdTransport, once
// the test has written what it built: the writer goroutine takes over.
func releaseTransport(s *Session) {
	s.sendMu.Lock()
	s.sender.doneWritingLocked()
	s.sendMu.Unlock()
	s.wakeWriter()
}

// queued reports whether st waits in the ready ring.
func queued(s *Session, st *Stream) func() bool {
	return func() bool {
		s.sendMu.Lock()
		defer s.sendMu.Unlock()
		return st.inReady
	}
}
