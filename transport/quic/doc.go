// Package quic carries netmux sessions over QUIC (github.com/quic-go/quic-go).
//
// A [Dialer] performs the QUIC handshake and opens one bidirectional
// stream; a [Listener] accepts QUIC connections and the first stream on
// each. That one stream carries the whole session: netmux does the
// multiplexing, QUIC supplies encryption (TLS 1.3), congestion control
// and loss recovery over UDP. Use them with the transport package:
//
//	sess, err := transport.Dial(ctx, quic.Dialer{TLSConfig: clientTLS}, "example.com:7777", core.DefaultConfig())
//
//	ln, err := quic.Listen(":7777", serverTLS, nil)
//	sl, err := transport.NewListener(ln, core.DefaultConfig())
//
// # How a connection differs from a net.Conn
//
// The connections are [*Conn] values: an io.ReadWriteCloser with
// LocalAddr and RemoteAddr (the UDP addresses) and ConnectionState, but no
// deadlines, since the session owns every timeout.
//
//   - One stream, so head-of-line blocking: a lost packet delays every
//     netmux stream behind it, exactly as over TCP. QUIC's independent
//     streams are not used.
//   - The server sees a connection only when data arrives on its stream
//     (quic-go's AcceptStream returns after the first STREAM frame). A
//     netmux client writes its preface at once, so this is invisible to
//     sessions; a raw client must write before the Listener returns its
//     connection. Each accepted connection waits for its stream in its
//     own goroutine, at most [DefaultStreamTimeout] (see
//     [WithStreamTimeout]), so a client that never opens a stream blocks
//     nothing.
//   - Close is a lingering close (see [Conn.Close]): it sends a FIN,
//     waits up to [Linger] (2 s) for the peer's FIN, reading and
//     discarding, and only then closes the QUIC connection, because a
//     CONNECTION_CLOSE sent at once can overtake stream data still in
//     flight and truncate it (quic-go issues 3291 and 5289). Two netmux
//     sessions close their connections right after their GoAway
//     handshake, so neither waits long; a raw Conn whose peer never
//     closes waits the full Linger. A Close that interrupts a Write
//     aborts the stream (RESET_STREAM) instead and does not linger. Close
//     wakes a pending Read at once.
//   - Closing a Conn closes its QUIC connection (application error code
//     0), on both sides. Connections the Listener drops (no stream in
//     time, or the Listener closed before Accept) are closed with code 1.
//   - Each dialed connection has its own UDP socket, bound to the local
//     address the system routes the server's address from, and closed
//     with the Conn. A Listener's socket is shared by the connections it
//     accepted and closed with the last of them: closing the Listener
//     closes the connections not yet returned by Accept, not the others.
//
// # Defaults
//
// Both sides clone the tls.Config and quic.Config they are given and fill
// in zero fields:
//
//   - tls.Config.NextProtos: [ALPN] ("netmux/1"). QUIC requires ALPN on
//     both sides; set the same list on both when choosing another.
//   - quic.Config.KeepAlivePeriod: [DefaultKeepAlivePeriod] (10 s), so an
//     idle session is not closed after MaxIdleTimeout (30 s by default,
//     kept as configured). quic-go pings every KeepAlivePeriod or half the
//     negotiated MaxIdleTimeout, whichever is shorter.
//     A negative value disables keepalive: then the session's own
//     keepalive interval must stay below MaxIdleTimeout.
//   - quic.Config.MaxIncomingStreams: 1 on the server and none on the
//     client, and MaxIncomingUniStreams none, since only the client opens
//     a stream.
//
// A Dialer with a nil TLSConfig verifies the server against the system
// roots; ServerName defaults to the host in the address. A Listener requires a tls.Config
// with a certificate.
//
// # UDP receive buffers
//
// quic-go tries to raise the socket receive buffer to 7 MiB. When the
// system limit (net.core.rmem_max on Linux) is lower, it logs once per
// process: "failed to sufficiently increase receive buffer size". QUIC
// works regardless, with less throughput under load; raise the limit (see
// https://github.com/quic-go/quic-go/wiki/UDP-Buffer-Sizes) or silence
// the message with the environment variable
// QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true, as this package's tests do.
package quic
