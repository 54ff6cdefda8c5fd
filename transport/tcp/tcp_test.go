package tcp_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/tcp"
)

func TestDialAccept(t *testing.T) {
	c1, c2 := pipe(t)
	client, ok := c1.(*net.TCPConn)
	require.True(t, ok, "Dial returns a *net.TCPConn, got %T", c1)
	server, ok := c2.(*net.TCPConn)
	require.True(t, ok, "Accept returns a *net.TCPConn, got %T", c2)
	assert.Equal(t, client.LocalAddr().String(), server.RemoteAddr().String())
	assert.Equal(t, client.RemoteAddr().String(), server.LocalAddr().String())

	_, err := client.Write([]byte("ping"))
	require.NoError(t, err)
	require.NoError(t, client.CloseWrite())
	got, err := io.ReadAll(server)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(got))
}

func TestListenerClose(t *testing.T) {
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr()
	require.IsType(t, &net.TCPAddr{}, addr)

	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	require.NoError(t, ln.Close())
	require.ErrorIs(t, <-done, net.ErrClosed)
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)

	_, err = tcp.Dialer{}.Dial(context.Background(), addr.String())
	require.Error(t, err, "nothing listens any more")
}

func TestDialContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tcp.Dialer{}.Dial(ctx, "127.0.0.1:1")
	require.ErrorIs(t, err, context.Canceled)
}

func TestInvalidOptions(t *testing.T) {
	_, err := tcp.Listen("127.0.0.1:0", tcp.WithBufferSizes(-1, 0))
	require.Error(t, err)
	_, err = tcp.Dialer{Options: tcp.Options{WriteBuffer: -1}}.Dial(context.Background(), "127.0.0.1:1")
	require.Error(t, err)
}

func TestDialLocalAddr(t *testing.T) {
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	d := tcp.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	c, err := d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, c.(*net.TCPConn).LocalAddr().String(), s.(*net.TCPConn).RemoteAddr().String())
}
