// Package ws carries netmux over WebSocket (RFC 6455), using
// github.com/coder/websocket: binary messages are the byte stream. It
// reaches servers through HTTP infrastructure (ordinary reverse proxies,
// load balancers, ports shared with a web application, networks that
// only let HTTP(S) out). The package builds for native targets only: it
// uses net/http on both sides, so it does not build for js/wasm (which
// coder/websocket itself supports, through the browser's WebSocket).
//
// # Server
//
// A [Handler] is a [net/http.Handler]: mount it on a path of an existing
// http.Server, next to the application's other routes, and hand the same
// value to transport.NewListener or transport.Server, since it is also a
// transport.Listener:
//
//	h := ws.NewHandler()
//	mux.Handle("/netmux", h) // on the application's own http.Server
//	go srv.Serve(h)          // srv is a *transport.Server
//
// ServeHTTP upgrades the request (compression off, Origin checked; see
// [WithOriginPatterns]) and waits until Accept takes the connection. The
// handler then returns: net/http forgets a hijacked connection, which
// lives on without its handler goroutine and without the request's
// context. Authentication is the enclosing handler's job (check a token
// before calling ServeHTTP); [Conn.Request] keeps the upgrade request for
// later. Handler.Close refuses further requests (503), fails Accept and
// closes upgraded connections not yet accepted; it leaves the http.Server
// alone, and http.Server.Shutdown does not close upgraded connections
// either: close the sessions.
//
// [Listen] is the standalone form: its own http.Server on a TCP address,
// with the Handler at [DefaultPath] (see [WithPath]) and TLS, that is
// wss://, when given [WithTLSConfig]. Its Addr is the URL to dial.
//
// # Client
//
// [Dialer] dials ws:// and wss:// URLs through net/http: proxies from the
// environment (or the given http.Client's transport), redirects, and
// [Dialer.Header] for Authorization, cookies or Origin. The dial context
// bounds the handshake only; the connection outlives it. A refused
// upgrade is a [*HandshakeError] with the HTTP status.
//
// # How a Conn differs from a net.Conn
//
//   - Framing: every Write is sent as one binary WebSocket message (with a
//     2 to 14 byte header, and masked from client to server), so small
//     writes are expensive. netmux sessions coalesce their frames into
//     one Write per batch. Reads ignore message boundaries.
//   - No deadlines: coder/websocket closes the whole connection when a
//     deadline fires during a Read or Write, so [Conn] has no deadline
//     methods and netmux, which owns every timeout (keepalive, write
//     timeout, stream deadlines), never needs them.
//   - Keep reading: control frames, including the reply that completes a
//     close handshake, are handled only while someone reads. A netmux
//     session always does.
//   - Close performs the close handshake (status 1000; the peer reads
//     io.EOF) but waits at most [DefaultCloseTimeout] (see
//     [WithCloseTimeout], [Dialer.CloseTimeout]) for a peer that is not
//     reading, where the library alone would wait 5 s and more; then it
//     closes the connection underneath. Close is idempotent and returns
//     nil, also when the peer closed first.
//   - No read limit: the library's 32 KiB message limit is disabled.
//   - No half-close: there is no CloseWrite; a netmux session ends with
//     its own GoAway handshake.
//   - Addresses are those of the connection under the WebSocket: the
//     TCP (or TLS) peer, which is a reverse proxy or an HTTP proxy when
//     there is one (see X-Forwarded-For in [Conn.Request]). On the dial
//     side coder/websocket itself reports only a placeholder; this
//     package takes the real connection from net/http/httptrace, and
//     falls back to the placeholder ("websocket/unknown-addr") with an
//     http.Client whose transport does not report it.
//
// # Defaults
//
//	path (Listen)           /netmux                       WithPath
//	TLS (Listen)            off; ALPN http/1.1 when on    WithTLSConfig
//	header timeout (Listen) 10 s                          DefaultReadHeaderTimeout
//	before upgrade (Listen) 1024 connections, oldest out  DefaultMaxUnupgraded
//	Origin                  the request's host, or none   WithOriginPatterns
//	compression             off
//	close handshake bound   1 s                           WithCloseTimeout, Dialer.CloseTimeout
//	dial transport          http.DefaultTransport clone   Dialer.HTTPClient, Dialer.TLSConfig
//	                        per Dial, proxies from env
package ws
