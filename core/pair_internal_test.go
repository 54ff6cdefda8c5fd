package core

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection, closed at
// cleanup.
func tcpPair(t *testing.T) (dialed, accepted *net.TCPConn) {
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
	c, err := net.Dial("tcp", ln.Addr().String())
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
