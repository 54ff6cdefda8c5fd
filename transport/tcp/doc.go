// Package tcp carries netmux sessions over TCP.
//
// [Dialer] dials and [Listen] listens; both return connections that are
// plain *net.TCPConn values (assert the io.ReadWriteCloser to get one), so
// they behave exactly like any other TCP connection: deadlines recover
// after a timeout, CloseWrite sends a FIN, Close after the peer closed
// returns nil. What the adapter adds is a set of socket options chosen for
// carrying a multiplexer, applied to every connection on both sides.
//
// # Options and defaults
//
// The zero [Options] (and so the zero [Dialer], and [Listen] without
// options) selects:
//
//   - TCP_NODELAY on. Go sets it by default too; the adapter sets it
//     explicitly, because the session's writer already coalesces frames
//     into large writes and Nagle's algorithm would only delay the small
//     control frames (window updates, ping replies) the mux depends on.
//     [Options.DisableNoDelay] or [WithNoDelay](false) turns Nagle back on.
//   - OS keepalive with [DefaultKeepAlive]: first probe after 15 s idle,
//     then every 15 s, the connection dropped after 4 unanswered probes.
//     The session's own keepalive (core.Config.KeepAliveInterval) is what
//     normally detects a dead peer; the OS probes also cover a session
//     with keepalive disabled and keep NAT and firewall state warm.
//     [Options.KeepAlive] or [WithKeepAlive] replaces it; a config with
//     Enable false turns OS keepalive off.
//   - TCP_NOTSENT_LOWAT of [DefaultNotSentLowat] (128 KiB), Linux only.
//     It bounds how much not-yet-sent data the kernel queues for the
//     socket: the session's writer then blocks in the kernel less deeply,
//     so a control frame or a small request scheduled after megabytes of
//     bulk data waits behind at most ~128 KiB instead of the whole send
//     buffer (several MiB with autotuning). It limits only data not yet
//     sent, not data in flight, so it does not cap the congestion window;
//     on loopback (2 GiB in 64 KiB writes) it did not lower throughput.
//     [WithNotSentLowat](0) or a negative
//     [Options.NotSentLowat] leaves the kernel default (unlimited, or the
//     net.ipv4.tcp_notsent_lowat sysctl). Elsewhere the setting is
//     ignored.
//   - Socket buffers left to the OS (on Linux that means autotuning, which
//     setting a size disables). [Options.ReadBuffer] and
//     [Options.WriteBuffer] set SO_RCVBUF and SO_SNDBUF; they are set once
//     the connection is established, so on Linux the receive window a
//     large buffer can open is also capped by the window scale negotiated
//     at connect (which follows net.ipv4.tcp_rmem).
//
// A [Listener] applies the options to each accepted connection. A
// connection on which an option cannot be set (on some systems, one the
// peer has already reset) is closed and skipped, so Accept never fails
// because of one bad client. The [Dialer] returns such errors from Dial.
//
// # Use
//
//	ln, err := tcp.Listen(":7777")
//	srv := &transport.Server{Config: core.DefaultConfig(), Handler: serve}
//	go srv.Serve(ln)
//
//	sess, err := transport.Dial(ctx, tcp.Dialer{}, "example.net:7777", core.DefaultConfig())
package tcp
