// Package tls carries netmux sessions over TLS, on top of TCP or of any
// other transport. Import it under an alias, since its name is the
// standard library's:
//
//	import (
//		"crypto/tls"
//		nmtls "github.com/netmux/netmux/transport/tls"
//	)
//
//	ln, err := nmtls.Listen(":7443", &tls.Config{Certificates: []tls.Certificate{cert}})
//	go (&transport.Server{Config: core.DefaultConfig(), Handler: serve}).Serve(ln)
//
//	d := nmtls.Dialer{Config: &tls.Config{RootCAs: pool}}
//	sess, err := transport.Dial(ctx, d, "example.net:7443", core.DefaultConfig())
//
// [Dialer.Inner] and [NewListener] put TLS over another carrier (a
// transport/kcp Dialer and Listener, for example); by default it runs over
// transport/tcp with that package's defaults. The connections returned
// are *crypto/tls.Conn values, so ConnectionState (peer certificates,
// negotiated version and protocol) is one type assertion away, and
// LocalAddr and RemoteAddr are the carrier's.
//
// # Defaults
//
// Both sides clone the given config (it is never modified) and then:
//
//   - raise MinVersion to TLS 1.2 if it is lower (the config's MaxVersion
//     still applies; a MaxVersion below 1.2 makes every handshake fail);
//   - set NextProtos to [ALPN] ("netmux/1") if it is empty, so a netmux
//     endpoint and, say, an HTTPS endpoint on the same port can be told
//     apart: a peer offering only other protocols is refused, one offering
//     none is accepted. A config with its own NextProtos is left as it is.
//
// The same applies to a config returned by the server's
// GetConfigForClient. On the client, an empty ServerName is taken from
// the host part of the dialed address, as crypto/tls.Dial does.
//
// Mutual TLS uses the standard fields: the server sets ClientAuth (for
// example tls.RequireAndVerifyClientCert) and ClientCAs, the client sets
// Certificates (or GetClientCertificate).
//
// # Handshakes
//
// [Dialer.Dial] completes the handshake before it returns, under its
// context: cancelling the context closes the connection and returns the
// context's error. [Listener.Accept] does not handshake: it returns the
// *tls.Conn at once and the handshake runs on the connection's first
// Read. transport.NewListener (and so transport.Server) reads each
// connection's preface in its own goroutine under the preface timeout,
// so a slow or silent client's handshake never delays another client and
// never outlives that timeout. A Listener used without transport.NewListener
// leaves the handshake unbounded unless the caller sets a deadline.
//
// # How a TLS connection differs from a plain net.Conn
//
//   - A write timeout is permanent: once a Write has timed out the
//     connection's write side is broken for good (read timeouts recover).
//     netmux sessions never set carrier deadlines; they own their
//     timeouts. This is also why nettest.TestConn fails on a bare
//     *tls.Conn but passes on netmux streams over it.
//   - With TLS 1.3 the client finishes its handshake before the server has
//     checked the client's certificate, so a rejected client certificate
//     is not a Dial error: the server's alert arrives on the client's
//     first Read. transport.Dial waits for the session's first ping reply
//     before it returns, so over this package a rejected client
//     certificate is still an error transport.Dial returns, in TLS 1.3 as
//     in TLS 1.2 (where the handshake itself fails). Code that uses
//     [Dialer] directly must Read before it trusts the connection.
//   - A TCP FIN without close_notify reads as a clean io.EOF, so TLS alone
//     cannot tell truncation from a close; the session's GoAway handshake
//     can. Close sends close_notify (bounded by a 5 s write deadline where
//     the carrier supports deadlines) unless a Write is in flight, in
//     which case it just closes the carrier. A second Close returns an
//     error matching net.ErrClosed.
//   - CloseWrite sends close_notify: a half-close the peer reads as
//     io.EOF, after which Writes fail. It does not send a TCP FIN.
//
// # Carriers that are not net.Conns
//
// crypto/tls needs a net.Conn. A carrier connection that is only an
// io.ReadWriteCloser is adapted: LocalAddr and RemoteAddr and the deadline
// methods are forwarded when the connection has them; otherwise the
// addresses are placeholders and setting a deadline returns an error
// (which crypto/tls tolerates; it then cannot bound the close_notify
// write).
package tls
