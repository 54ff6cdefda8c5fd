// Package transport connects netmux sessions to carriers. A carrier is
// anything that yields connected io.ReadWriteClosers: a [Dialer] on the
// client side and a [Listener] on the server side. The adapter packages
// (tcp, tls, kcp, ws, quic, mem) each provide both.
//
// [Dial] dials and starts a client session; it returns once the peer has
// answered the session's first frame, so a carrier that fails late (a TLS
// client certificate rejected after the handshake) fails in Dial, not on
// the first Read. [NewListener] turns a Listener into a source of server
// sessions: connections complete their handshake and netmux preface
// concurrently, each under a timeout, so one slow or silent client never
// delays the next, and a flood of them costs at most
// [DefaultMaxHandshakes] goroutines (see [WithMaxHandshakes] and
// [WithMaxPending]); [WithHandshake] adds an exchange of the caller's,
// such as authentication, to that bounded handshake. [Server] runs a
// handler per session and shuts down gracefully.
//
// # Adding a transport
//
// A transport is two small types:
//
//	type Dialer struct{ /* options */ }
//
//	func (d Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
//		return (&net.Dialer{}).DialContext(ctx, "unix", addr)
//	}
//
//	type Listener struct{ net.Listener }
//
//	func (l Listener) Accept() (io.ReadWriteCloser, error) { return l.Listener.Accept() }
//
// The connection must be an ordered, reliable byte stream whose Close
// unblocks a pending Read and Write. It need not support deadlines,
// half-close or a FIN: the session owns every timeout and ends with its
// own close handshake. If the connection has LocalAddr and RemoteAddr
// methods, streams report them. Prove the transport with
// github.com/netmux/netmux/conformance: conformance.Run in one _test.go
// file runs every check over it.
package transport
