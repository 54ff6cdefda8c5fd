package tls_test

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/tcp"
	nmtls "github.com/netmux/netmux/transport/tls"
)

var versions = []struct {
	name string
	v    uint16
}{
	{"TLS1.2", stdtls.VersionTLS12},
	{"TLS1.3", stdtls.VersionTLS13},
}

// testCtx is bounded so a broken test fails instead of hanging.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echo serves every stream of sess by echoing it.
func echo(sess *core.Session) {
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go func() {
			io.Copy(st, st)
			st.Close()
		}()
	}
}

// serve runs an echo transport.Server on ln until the test ends.
func serve(t *testing.T, ln transport.Listener) {
	srv := &transport.Server{Config: core.DefaultConfig(), Handler: echo}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.ErrorIs(t, <-served, transport.ErrServerClosed)
	})
}

// roundTrip sends msg on a new stream of sess and checks the echo.
func roundTrip(t *testing.T, sess *core.Session, msg string) {
	t.Helper()
	st, err := sess.OpenStream(testCtx(t))
	require.NoError(t, err)
	_, err = io.WriteString(st, msg)
	require.NoError(t, err)
	require.NoError(t, st.CloseWrite())
	got, err := io.ReadAll(st)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
	st.Close()
}

func withMax(cfg *stdtls.Config, v uint16) *stdtls.Config {
	cfg.MaxVersion = v
	return cfg
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t, "mtls")
	for _, tv := range versions {
		t.Run(tv.name, func(t *testing.T) {
			c, s := handshakePair(t, p.mtlsServerConfig(), withMax(p.mtlsClientConfig(), tv.v))
			cs, ss := c.ConnectionState(), s.ConnectionState()
			assert.Equal(t, tv.v, cs.Version)
			assert.Equal(t, tv.v, ss.Version)
			require.NotEmpty(t, ss.PeerCertificates, "server sees the client certificate")
			assert.Equal(t, "mtls client", ss.PeerCertificates[0].Subject.CommonName)
			require.NotEmpty(t, cs.PeerCertificates)
			assert.Equal(t, "mtls server", cs.PeerCertificates[0].Subject.CommonName)

			// And a whole session through the helpers.
			ln, err := nmtls.Listen("127.0.0.1:0", p.mtlsServerConfig())
			require.NoError(t, err)
			serve(t, ln)
			d := nmtls.Dialer{Config: withMax(p.mtlsClientConfig(), tv.v)}
			sess, err := transport.Dial(testCtx(t), d, ln.Addr().String(), core.DefaultConfig())
			require.NoError(t, err)
			defer sess.Close()
			roundTrip(t, sess, "mutual "+tv.name)
			assert.Equal(t, ln.Addr().String(), sess.RemoteAddr().String(), "the TLS conn keeps the carrier's addresses")
		})
	}
}

// A client certificate the server rejects is an error transport.Dial
// returns, whichever TLS version; with TLS 1.3 the handshake alone does
// not reveal it.
func TestClientCertificateRejected(t *testing.T) {
	p := newPKI(t, t.Name())
	stranger := newPKI(t, "stranger")
	clients := map[string]func() *stdtls.Config{
		"NoCertificate": p.clientConfig,
		"UnknownCA": func() *stdtls.Config {
			return &stdtls.Config{RootCAs: p.pool, Certificates: []stdtls.Certificate{stranger.client}}
		},
	}
	for _, tv := range versions {
		for name, client := range clients {
			t.Run(tv.name+"/"+name, func(t *testing.T) {
				ln, err := nmtls.Listen("127.0.0.1:0", p.mtlsServerConfig())
				require.NoError(t, err)
				serve(t, ln)
				addr := ln.Addr().String()

				d := nmtls.Dialer{Config: withMax(client(), tv.v)}
				sess, err := transport.Dial(testCtx(t), d, addr, core.DefaultConfig())
				require.Error(t, err)
				assert.Nil(t, sess)
				assert.NotErrorIs(t, err, io.EOF, "a rejected certificate must not look like a clean close")
				assert.NotErrorIs(t, err, context.DeadlineExceeded, "Dial must fail at once, not time out")
				t.Logf("transport.Dial: %v", err)

				// The carrier-level picture (documented in doc.go).
				raw, err := d.Dial(testCtx(t), addr)
				if tv.v == stdtls.VersionTLS12 {
					require.Error(t, err, "TLS 1.2 rejects the certificate in the handshake")
				} else {
					require.NoError(t, err, "TLS 1.3: the client's handshake completes")
					_, err = raw.Read(make([]byte, 1))
					require.Error(t, err, "the rejection arrives on the first Read")
					var opErr *net.OpError
					require.ErrorAs(t, err, &opErr)
					assert.Equal(t, "remote error", opErr.Op, "the server's TLS alert, got %v", err)
					raw.Close()
				}

				// The server is unaffected: a good client still gets in.
				good := nmtls.Dialer{Config: withMax(p.mtlsClientConfig(), tv.v)}
				sess, err = transport.Dial(testCtx(t), good, addr, core.DefaultConfig())
				require.NoError(t, err)
				roundTrip(t, sess, "still serving")
				sess.Close()
			})
		}
	}
}

func TestALPN(t *testing.T) {
	p := sharedPKI(t)
	t.Run("Default", func(t *testing.T) {
		c, s := handshakePair(t, p.serverConfig(), p.clientConfig())
		assert.Equal(t, nmtls.ALPN, c.ConnectionState().NegotiatedProtocol)
		assert.Equal(t, nmtls.ALPN, s.ConnectionState().NegotiatedProtocol)
	})
	t.Run("OwnProtocolsKept", func(t *testing.T) {
		srv, cli := p.serverConfig(), p.clientConfig()
		srv.NextProtos = []string{"x/2", "x/1"}
		cli.NextProtos = []string{"x/1"}
		c, s := handshakePair(t, srv, cli)
		assert.Equal(t, "x/1", c.ConnectionState().NegotiatedProtocol)
		assert.Equal(t, "x/1", s.ConnectionState().NegotiatedProtocol)
	})
	t.Run("Mismatch", func(t *testing.T) {
		srv := p.serverConfig()
		srv.NextProtos = []string{"h2"}
		ln, err := nmtls.Listen("127.0.0.1:0", srv)
		require.NoError(t, err)
		serve(t, ln)
		_, err = transport.Dial(testCtx(t), nmtls.Dialer{Config: p.clientConfig()}, ln.Addr().String(), core.DefaultConfig())
		require.Error(t, err, "a server that does not speak netmux/1 is refused")
	})
}

// stdServer accepts one plain crypto/tls connection on 127.0.0.1:0 and
// reports its handshake result.
func stdServer(t *testing.T, cfg *stdtls.Config) (addr string, result <-chan error) {
	ln, err := stdtls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	ch := make(chan error, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		ch <- c.(*stdtls.Conn).HandshakeContext(context.Background())
	}()
	return ln.Addr().String(), ch
}

func TestMinVersionRaised(t *testing.T) {
	p := sharedPKI(t)

	t.Run("Dialer", func(t *testing.T) {
		// A server stuck at TLS 1.1 is refused although the client's
		// config allows TLS 1.0.
		srv := p.serverConfig()
		srv.MinVersion, srv.MaxVersion = stdtls.VersionTLS10, stdtls.VersionTLS11
		addr, result := stdServer(t, srv)
		cli := p.clientConfig()
		cli.MinVersion = stdtls.VersionTLS10
		_, err := nmtls.Dialer{Config: cli}.Dial(testCtx(t), addr)
		require.Error(t, err)
		require.Error(t, <-result)
		assert.Equal(t, uint16(stdtls.VersionTLS10), cli.MinVersion, "the caller's config is not modified")
		assert.Empty(t, cli.NextProtos, "the caller's config is not modified")
		assert.Empty(t, cli.ServerName, "the caller's config is not modified")
	})

	t.Run("Listener", func(t *testing.T) {
		srv := p.serverConfig()
		srv.MinVersion = stdtls.VersionTLS10
		ln, err := nmtls.Listen("127.0.0.1:0", srv)
		require.NoError(t, err)
		defer ln.Close()
		accepted := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			defer c.Close()
			accepted <- c.(*stdtls.Conn).HandshakeContext(context.Background())
		}()
		cli := p.clientConfig()
		cli.ServerName = "localhost"
		cli.MinVersion, cli.MaxVersion = stdtls.VersionTLS10, stdtls.VersionTLS11
		_, err = stdtls.Dial("tcp", ln.Addr().String(), cli)
		require.Error(t, err)
		require.Error(t, <-accepted)
		assert.Equal(t, uint16(stdtls.VersionTLS10), srv.MinVersion, "the caller's config is not modified")
	})

	t.Run("GetConfigForClient", func(t *testing.T) {
		srv := &stdtls.Config{GetConfigForClient: func(*stdtls.ClientHelloInfo) (*stdtls.Config, error) {
			c := p.serverConfig()
			c.MinVersion = stdtls.VersionTLS10
			return c, nil
		}}
		ln, err := nmtls.Listen("127.0.0.1:0", srv)
		require.NoError(t, err)
		defer ln.Close()
		accepted := make(chan stdtls.ConnectionState, 2)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				tc := c.(*stdtls.Conn)
				tc.HandshakeContext(context.Background())
				accepted <- tc.ConnectionState()
				tc.Close()
			}
		}()
		cli := p.clientConfig()
		cli.ServerName = "localhost"
		cli.MinVersion, cli.MaxVersion = stdtls.VersionTLS10, stdtls.VersionTLS11
		_, err = stdtls.Dial("tcp", ln.Addr().String(), cli)
		require.Error(t, err, "TLS 1.1 is refused")
		assert.False(t, (<-accepted).HandshakeComplete)

		c, err := nmtls.Dialer{Config: p.clientConfig()}.Dial(testCtx(t), ln.Addr().String())
		require.NoError(t, err)
		c.Close()
		assert.Equal(t, nmtls.ALPN, (<-accepted).NegotiatedProtocol, "defaults apply to the returned config")
	})
}

func TestListenNeedsCertificate(t *testing.T) {
	_, err := nmtls.Listen("127.0.0.1:0", nil)
	require.Error(t, err)
	_, err = nmtls.Listen("127.0.0.1:0", &stdtls.Config{})
	require.Error(t, err)
}

// The handshake runs under Dial's context: a server that accepts the TCP
// connection and never answers does not hold Dial past cancellation.
func TestDialHandshakeHonoursContext(t *testing.T) {
	ln, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	accepted := make(chan io.ReadWriteCloser, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
		cancel() // the client is connected; give up on the handshake
	}()
	_, err = nmtls.Dialer{Config: sharedPKI(t).clientConfig()}.Dial(ctx, ln.Addr().String())
	require.ErrorIs(t, err, context.Canceled)
	c := <-accepted
	require.NotNil(t, c)
	defer c.Close()
	_, err = io.ReadAll(c) // the client hello (maybe), then the close
	assert.NoError(t, err)
}

// A slow client's handshake does not hold up another client: Accept does
// not handshake, transport.NewListener handshakes each connection in its
// own goroutine.
func TestSilentClientDoesNotBlockAccept(t *testing.T) {
	p := sharedPKI(t)
	ln, err := nmtls.Listen("127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	serve(t, ln)

	silent, err := tcp.Dialer{}.Dial(testCtx(t), ln.Addr().String())
	require.NoError(t, err)
	defer silent.Close()

	sess, err := transport.Dial(testCtx(t), nmtls.Dialer{Config: p.clientConfig()}, ln.Addr().String(), core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	roundTrip(t, sess, "not blocked")
}

// hidden is a connection that is only an io.ReadWriteCloser.
type hidden struct{ io.ReadWriteCloser }

type hiddenDialer struct{}

func (hiddenDialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	c, err := tcp.Dialer{}.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return hidden{c}, nil
}

type hiddenListener struct{ transport.Listener }

func (l hiddenListener) Accept() (io.ReadWriteCloser, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return hidden{c}, nil
}

// TLS runs over any carrier, also one that is not a net.Conn.
func TestOverPlainReadWriteCloser(t *testing.T) {
	p := sharedPKI(t)
	inner, err := tcp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	ln := nmtls.NewListener(hiddenListener{inner}, p.serverConfig())
	assert.Equal(t, inner.Addr(), ln.Addr())
	serve(t, ln)

	cli := p.clientConfig()
	d := nmtls.Dialer{Config: cli, Inner: hiddenDialer{}}
	sess, err := transport.Dial(testCtx(t), d, ln.Addr().String(), core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	roundTrip(t, sess, "over a plain io.ReadWriteCloser")

	c, err := d.Dial(testCtx(t), ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	tc := c.(*stdtls.Conn)
	assert.NotNil(t, tc.RemoteAddr(), "a placeholder address, never nil")
	assert.NotNil(t, tc.LocalAddr())
	assert.ErrorIs(t, tc.SetDeadline(time.Now()), errors.ErrUnsupported)
	var _ net.Conn = tc
}
