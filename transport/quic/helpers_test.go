package quic_test

import (
	"context"
	"crypto/tls"
	"io"
	"sync"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/transport/quic"
)

// testTimeout bounds every wait in these tests; reaching it is a failure.
const testTimeout = 30 * time.Second

var certs = sync.OnceValues(selfSigned)

func serverTLS() *tls.Config { s, _ := certs(); return s }
func clientTLS() *tls.Config { _, c := certs(); return c }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// listen starts a Listener on 127.0.0.1:0, closed at cleanup.
func listen(t testing.TB, conf *qgo.Config, opts ...quic.ListenOption) *quic.Listener {
	t.Helper()
	ln, err := quic.Listen("127.0.0.1:0", serverTLS(), conf, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// closeBoth closes both ends concurrently, as two sessions do: closing
// them one after the other would make the first Close linger.
func closeBoth(a, b io.Closer) {
	var wg sync.WaitGroup
	wg.Go(func() { a.Close() })
	wg.Go(func() { b.Close() })
	wg.Wait()
}

// rawPair dials one raw connection and accepts it. The client writes one
// byte that the server reads, since the listener sees a stream only once
// data arrives. Both ends are closed at cleanup.
func rawPair(t testing.TB, conf *qgo.Config) (client, server *quic.Conn) {
	t.Helper()
	ln, err := quic.Listen("127.0.0.1:0", serverTLS(), conf)
	require.NoError(t, err)
	defer ln.Close() // accepted connections outlive the listener

	d := quic.Dialer{TLSConfig: clientTLS(), Config: conf}
	c, err := d.Dial(ctxT(t), ln.Addr().String())
	require.NoError(t, err)
	client = c.(*quic.Conn)
	if _, err := client.Write([]byte{0x5a}); err != nil {
		client.Close()
		require.NoError(t, err)
	}
	s, err := ln.Accept()
	if err != nil {
		client.Close()
		require.NoError(t, err)
	}
	server = s.(*quic.Conn)
	t.Cleanup(func() { closeBoth(client, server) })
	var b [1]byte
	_, err = io.ReadFull(server, b[:])
	require.NoError(t, err)
	require.Equal(t, byte(0x5a), b[0])
	return client, server
}
