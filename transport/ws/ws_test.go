package ws_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/ws"
)

var (
	_ transport.Listener = (*ws.Handler)(nil)
	_ transport.Listener = (*ws.Listener)(nil)
	_ transport.Dialer   = ws.Dialer{}
	_ http.Handler       = (*ws.Handler)(nil)
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serveEcho serves echoing sessions from ln until the test ends.
func serveEcho(t *testing.T, ln transport.Listener) {
	srv := &transport.Server{Config: core.DefaultConfig(), Handler: echoStreams}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.ErrorIs(t, <-served, transport.ErrServerClosed)
	})
}

// echoOnce opens a stream on sess, sends msg, half-closes and returns
// what comes back.
func echoOnce(t *testing.T, sess *core.Session, msg string) string {
	t.Helper()
	st, err := sess.OpenStream(testCtx(t))
	require.NoError(t, err)
	defer st.Close()
	wrote := make(chan error, 1)
	go func() { // concurrently: the echo comes back while we write
		_, err := st.Write([]byte(msg))
		if err == nil {
			err = st.CloseWrite()
		}
		wrote <- err
	}()
	got, err := io.ReadAll(st)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	return string(got)
}

func TestWSSSessionEcho(t *testing.T) {
	srvTLS, cliTLS := testCert(t)
	ln := listen(t, ws.WithTLSConfig(srvTLS))
	assert.Equal(t, "wss", ln.Addr().Network())
	assert.True(t, strings.HasPrefix(ln.Addr().String(), "wss://127.0.0.1:"), ln.Addr().String())
	assert.True(t, strings.HasSuffix(ln.Addr().String(), ws.DefaultPath), ln.Addr().String())

	sl, err := transport.NewListener(ln, core.DefaultConfig())
	require.NoError(t, err)
	defer sl.Close()
	accepted := make(chan *core.Session, 1)
	go func() {
		sess, err := sl.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- sess
		echoStreams(sess)
	}()

	sess, err := transport.Dial(testCtx(t), ws.Dialer{TLSConfig: cliTLS}, ln.Addr().String(), core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	server := <-accepted
	require.NotNil(t, server)
	defer server.Close()

	assert.Equal(t, "hello over wss", echoOnce(t, sess, "hello over wss"))
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	assert.Equal(t, big, echoOnce(t, sess, big))

	// Real TCP addresses on both sides, matching each other.
	remote, ok := sess.RemoteAddr().(*net.TCPAddr)
	require.True(t, ok, "client remote %T %v", sess.RemoteAddr(), sess.RemoteAddr())
	assert.Equal(t, "127.0.0.1", remote.IP.String())
	assert.True(t, strings.Contains(ln.Addr().String(), remote.String()))
	assert.Equal(t, sess.LocalAddr().String(), server.RemoteAddr().String())
	assert.Equal(t, sess.RemoteAddr().String(), server.LocalAddr().String())
}

func TestWSSUntrustedCertificate(t *testing.T) {
	srvTLS, _ := testCert(t)
	ln := listen(t, ws.WithTLSConfig(srvTLS))
	_, err := ws.Dialer{}.Dial(testCtx(t), ln.Addr().String()) // system roots
	var certErr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &certErr)
}

// requireToken wraps next with a bearer-token check, as authentication
// middleware in front of the Handler would.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "missing or wrong token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestDialerHeaderReachesServer(t *testing.T) {
	h := ws.NewHandler()
	mux := http.NewServeMux()
	mux.Handle("/netmux", requireToken("s3cret", h))
	web := httptest.NewServer(mux)
	defer web.Close()
	defer h.Close()
	url := "ws://" + web.Listener.Addr().String() + "/netmux"

	// Without the token: refused with the status, and nothing queued.
	_, err := ws.Dialer{}.Dial(testCtx(t), url)
	var hsErr *ws.HandshakeError
	require.ErrorAs(t, err, &hsErr)
	assert.Equal(t, http.StatusUnauthorized, hsErr.StatusCode)
	assert.Contains(t, err.Error(), "401")
	_, err = ws.Dialer{Header: http.Header{"Authorization": {"Bearer wrong"}}}.Dial(testCtx(t), url)
	require.ErrorAs(t, err, &hsErr)

	// With it: accepted, and the server side sees the request.
	d := ws.Dialer{Header: http.Header{"Authorization": {"Bearer s3cret"}, "X-Client": {"test"}}}
	c1, c2 := dialAccept(t, h, url, d)
	req := c2.Request()
	require.NotNil(t, req)
	assert.Equal(t, "Bearer s3cret", req.Header.Get("Authorization"))
	assert.Equal(t, "test", req.Header.Get("X-Client"))
	assert.Equal(t, "/netmux", req.URL.Path)
	assert.Nil(t, c1.Request())

	// And a session works over it.
	serveEcho(t, h)
	sess, err := transport.Dial(testCtx(t), d, url, core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	assert.Equal(t, "authorised", echoOnce(t, sess, "authorised"))
}

func TestHandlerSharesServeMux(t *testing.T) {
	h := ws.NewHandler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the app")
	})
	mux.Handle("/netmux", h)
	web := httptest.NewServer(mux)
	defer web.Close()
	client := web.Client()
	defer client.CloseIdleConnections()
	serveEcho(t, h)

	get := func(path string) (int, string) {
		resp, err := client.Get(web.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/hello")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello from the app", body)
	code, _ = get("/netmux") // a plain GET is not an upgrade
	assert.Equal(t, http.StatusUpgradeRequired, code)

	url := "ws://" + web.Listener.Addr().String() + "/netmux"
	sess, err := transport.Dial(testCtx(t), ws.Dialer{}, url, core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	assert.Equal(t, "ping", echoOnce(t, sess, "ping"))

	// The app keeps working while a session is open.
	code, body = get("/hello")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello from the app", body)

	// A mounted Handler does not know its URL.
	assert.Equal(t, "ws", h.Addr().Network())
	assert.Equal(t, "", h.Addr().String())
}

// The dial context bounds the handshake only.
func TestDialContextBoundsOnlyHandshake(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	accepted := make(chan io.ReadWriteCloser, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c1, err := ws.Dialer{}.Dial(ctx, ln.Addr().String())
	require.NoError(t, err)
	c2 := <-accepted
	require.NotNil(t, c2)
	defer closeBoth(c1, c2)
	cancel()

	roundTrip(t, c1, c2, "after cancel")
	roundTrip(t, c2, c1, "and back")
}

func roundTrip(t *testing.T, from, to io.ReadWriter, msg string) {
	t.Helper()
	_, err := from.Write([]byte(msg))
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(to, got)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
}

func TestAddresses(t *testing.T) {
	ln := listen(t)
	c1, c2 := dialAccept(t, ln, ln.Addr().String(), ws.Dialer{})
	for _, a := range []net.Addr{c1.LocalAddr(), c1.RemoteAddr(), c2.LocalAddr(), c2.RemoteAddr()} {
		_, ok := a.(*net.TCPAddr)
		assert.True(t, ok, "%T %v", a, a)
	}
	assert.Equal(t, c1.LocalAddr().String(), c2.RemoteAddr().String())
	assert.Equal(t, c1.RemoteAddr().String(), c2.LocalAddr().String())
	assert.True(t, strings.HasPrefix(ln.Addr().String(), "ws://"+c2.LocalAddr().String()+"/"), ln.Addr().String())

	// A caller's own http.Client: addresses still come from its transport.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c3, c4 := dialAccept(t, ln, ln.Addr().String(), ws.Dialer{HTTPClient: &http.Client{Transport: tr}})
	assert.Equal(t, c3.LocalAddr().String(), c4.RemoteAddr().String())
	roundTrip(t, c3, c4, "own client")
}

func TestCloseHandshake(t *testing.T) {
	ln := listen(t)
	c1, c2 := dialAccept(t, ln, ln.Addr().String(), ws.Dialer{})
	roundTrip(t, c1, c2, "before")

	read := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(c2)
		read <- err
	}()
	require.NoError(t, c1.Close())
	require.NoError(t, <-read, "the peer reads exactly io.EOF")
	require.NoError(t, c2.Close(), "Close after the peer closed")
	require.NoError(t, c2.Close(), "again")
	require.NoError(t, c1.Close(), "again")

	_, err := c1.Write([]byte("x"))
	assert.Error(t, err)
	_, err = c1.Read(make([]byte, 1))
	assert.Error(t, err)
	n, err := c1.Write(nil)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)
}

// A peer that does not read cannot answer the close handshake: Close
// gives up after the close timeout instead of the library's 5 s + 5 s.
func TestCloseBoundedWhenPeerIsNotReading(t *testing.T) {
	const bound = 100 * time.Millisecond
	ln := listen(t, ws.WithCloseTimeout(bound))
	d := ws.Dialer{CloseTimeout: bound}

	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			c1, c2 := dialAccept(t, ln, ln.Addr().String(), d)
			closer, silent := c1, c2
			if side == "server" {
				closer, silent = c2, c1
			}
			start := time.Now()
			require.NoError(t, closer.Close())
			assert.Less(t, time.Since(start), 3*time.Second)
			_, err := io.ReadAll(silent) // the close frame and then the end arrive
			assert.NoError(t, err)
		})
	}

	t.Run("pending write", func(t *testing.T) {
		c1, c2 := dialAccept(t, ln, ln.Addr().String(), d)
		_ = c2 // never read: c1's big Write cannot complete
		wrote := make(chan error, 1)
		go func() {
			_, err := c1.Write(make([]byte, 64<<20))
			wrote <- err
		}()
		start := time.Now()
		require.NoError(t, c1.Close())
		assert.Error(t, <-wrote, "Close fails a Write the peer is not taking")
		assert.Less(t, time.Since(start), 3*time.Second)
	})

	t.Run("pending read", func(t *testing.T) {
		c1, _ := dialAccept(t, ln, ln.Addr().String(), d)
		read := make(chan error, 1)
		go func() {
			_, err := c1.Read(make([]byte, 1))
			read <- err
		}()
		start := time.Now()
		require.NoError(t, c1.Close())
		assert.Error(t, <-read)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
}

func TestHandlerClose(t *testing.T) {
	h := ws.NewHandler()
	web := httptest.NewServer(h)
	defer web.Close()
	url := "ws://" + web.Listener.Addr().String() + "/"

	// An upgraded connection waits for Accept; Close ends it.
	queued, err := ws.Dialer{}.Dial(testCtx(t), url)
	require.NoError(t, err)
	defer queued.Close()
	read := make(chan error, 1)
	go func() { // reading, so the close handshake completes at once
		_, err := io.ReadAll(queued)
		read <- err
	}()
	require.NoError(t, h.Close())
	assert.NoError(t, <-read, "closed with the close handshake: io.EOF")

	_, err = h.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = ws.Dialer{}.Dial(testCtx(t), url)
	var hsErr *ws.HandshakeError
	require.ErrorAs(t, err, &hsErr)
	assert.Equal(t, http.StatusServiceUnavailable, hsErr.StatusCode)
	require.NoError(t, h.Close(), "idempotent")
}

func TestCloseUnblocksAccept(t *testing.T) {
	for _, name := range []string{"Handler", "Listener"} {
		t.Run(name, func(t *testing.T) {
			var ln transport.Listener = ws.NewHandler()
			if name == "Listener" {
				ln = listen(t)
			}
			accepted := make(chan error, 1)
			go func() {
				_, err := ln.Accept()
				accepted <- err
			}()
			require.NoError(t, ln.Close())
			require.ErrorIs(t, <-accepted, net.ErrClosed)
			require.NoError(t, ln.Close(), "idempotent")
		})
	}
}

// Closing a Listener leaves the accepted connections open.
func TestListenerCloseKeepsAccepted(t *testing.T) {
	ln, err := ws.Listen("127.0.0.1:0")
	require.NoError(t, err)
	c1, c2 := dialAccept(t, ln, ln.Addr().String(), ws.Dialer{})
	require.NoError(t, ln.Close())
	roundTrip(t, c1, c2, "still here")
	roundTrip(t, c2, c1, "both ways")
	_, err = ws.Dialer{}.Dial(testCtx(t), ln.Addr().String())
	require.Error(t, err)
}

func TestOriginCheck(t *testing.T) {
	plain := listen(t)
	_, err := ws.Dialer{Header: http.Header{"Origin": {"https://evil.example"}}}.Dial(testCtx(t), plain.Addr().String())
	var hsErr *ws.HandshakeError
	require.ErrorAs(t, err, &hsErr)
	assert.Equal(t, http.StatusForbidden, hsErr.StatusCode)

	allowed := listen(t, ws.WithOriginPatterns("app.example"))
	d := ws.Dialer{Header: http.Header{"Origin": {"https://app.example"}}}
	c1, c2 := dialAccept(t, allowed, allowed.Addr().String(), d)
	roundTrip(t, c1, c2, "same-site app")
	_, err = ws.Dialer{Header: http.Header{"Origin": {"https://evil.example"}}}.Dial(testCtx(t), allowed.Addr().String())
	require.ErrorAs(t, err, &hsErr)
}

func TestDialErrors(t *testing.T) {
	ln := listen(t)
	ctx := testCtx(t)
	for _, addr := range []string{"http://" + strings.TrimPrefix(ln.Addr().String(), "ws://"), "127.0.0.1:1", "::bad"} {
		_, err := ws.Dialer{}.Dial(ctx, addr)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr, addr)
		assert.Equal(t, "dial", opErr.Op)
	}

	_, err := ws.Dialer{HTTPClient: http.DefaultClient, TLSConfig: &tls.Config{}}.Dial(ctx, ln.Addr().String())
	require.Error(t, err)

	_, err = ws.Dialer{}.Dial(ctx, strings.TrimSuffix(ln.Addr().String(), ws.DefaultPath)+"/elsewhere")
	var hsErr *ws.HandshakeError
	require.ErrorAs(t, err, &hsErr)
	assert.Equal(t, http.StatusNotFound, hsErr.StatusCode)

	// Nothing listening.
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "ws://" + tcp.Addr().String() + "/netmux"
	require.NoError(t, tcp.Close())
	_, err = ws.Dialer{}.Dial(ctx, dead)
	require.Error(t, err)
	require.False(t, errors.As(err, &hsErr))

	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = ws.Dialer{}.Dial(cctx, ln.Addr().String())
	require.ErrorIs(t, err, context.Canceled)
}

func TestListenErrors(t *testing.T) {
	_, err := ws.Listen("127.0.0.1:0", ws.WithPath("netmux"))
	require.Error(t, err)
	_, err = ws.Listen("127.0.0.1:0", ws.WithTLSConfig(&tls.Config{}))
	require.Error(t, err)
	_, err = ws.Listen("256.0.0.1:0")
	require.Error(t, err)

	ln := listen(t, ws.WithPath("/tunnel/"))
	assert.True(t, strings.HasSuffix(ln.Addr().String(), "/tunnel/"), ln.Addr().String())
	c1, c2 := dialAccept(t, ln, ln.Addr().String()+"sub", ws.Dialer{})
	roundTrip(t, c1, c2, "subtree path")
}

// An application server with read and write timeouts: the upgraded
// connection must not inherit its deadlines (net/http leaves them set on
// a hijacked connection).
func TestHandlerClearsServerDeadlines(t *testing.T) {
	h := ws.NewHandler()
	web := httptest.NewUnstartedServer(h)
	web.Config.ReadTimeout = 50 * time.Millisecond
	web.Config.WriteTimeout = 50 * time.Millisecond
	web.Start()
	defer web.Close()
	defer h.Close()
	c1, c2 := dialAccept(t, h, "ws://"+web.Listener.Addr().String()+"/", ws.Dialer{})
	roundTrip(t, c1, c2, "before")
	<-time.After(200 * time.Millisecond) // not synchronisation: the server's timeouts pass
	roundTrip(t, c1, c2, "after the server's timeouts")
	roundTrip(t, c2, c1, "both ways")
}

// Behind an ordinary reverse proxy (net/http/httputil passes upgrades
// through): sessions work, and the server sees the proxy's headers.
func TestBehindReverseProxy(t *testing.T) {
	ln := listen(t)
	serveEcho(t, ln)
	backend, err := url.Parse(ln.Addr().String())
	require.NoError(t, err)
	backend.Scheme, backend.Path = "http", ""
	proxy := httputil.NewSingleHostReverseProxy(backend)
	tr := &http.Transport{}
	proxy.Transport = tr
	front := httptest.NewServer(proxy)
	defer front.Close()
	defer tr.CloseIdleConnections()

	sess, err := transport.Dial(testCtx(t), ws.Dialer{}, "ws://"+front.Listener.Addr().String()+ws.DefaultPath, core.DefaultConfig())
	require.NoError(t, err)
	defer sess.Close()
	assert.Equal(t, "through the proxy", echoOnce(t, sess, "through the proxy"))
	assert.Equal(t, front.Listener.Addr().String(), sess.RemoteAddr().String(), "the TCP peer is the proxy")
}

func TestHandlerXForwardedFor(t *testing.T) {
	h := ws.NewHandler()
	backend := httptest.NewServer(h)
	defer backend.Close()
	defer h.Close()
	target, err := url.Parse(backend.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	proxy.Transport = tr
	front := httptest.NewServer(proxy)
	defer front.Close()
	defer tr.CloseIdleConnections()

	c1, c2 := dialAccept(t, h, "ws://"+front.Listener.Addr().String()+"/", ws.Dialer{})
	assert.Equal(t, "127.0.0.1", c2.Request().Header.Get("X-Forwarded-For"))
	roundTrip(t, c1, c2, "via proxy")
	roundTrip(t, c2, c1, "and back")
}

// Connections that never send their upgrade request are bounded: past
// DefaultMaxUnupgraded the oldest is closed, and a client still gets in.
func TestListenDropsOldestUnupgraded(t *testing.T) {
	ln, err := ws.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	u, err := url.Parse(ln.Addr().String())
	require.NoError(t, err)
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	for range ws.DefaultMaxUnupgraded + 1 {
		c, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		silent = append(silent, c)
	}
	silent[0].SetReadDeadline(time.Now().Add(5 * time.Second)) // before the 10 s header timeout
	_, err = silent[0].Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the oldest silent connection is closed")

	c, err := ws.Dialer{}.Dial(testCtx(t), ln.Addr().String())
	require.NoError(t, err, "a client that upgrades gets in")
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	s.Close()
}
