// Package core is the netmux stream multiplexer: it turns one ordered,
// reliable byte stream (any io.ReadWriteCloser: TCP, TLS, KCP, WebSocket,
// QUIC, a pipe) into many concurrent, bidirectional streams, each a
// net.Conn with its own flow control.
//
// # Quick start
//
//	sess, err := core.Client(conn, core.DefaultConfig()) // core.Server on the other end
//	st, err := sess.OpenStream(ctx)                        // or sess.AcceptStream(ctx)
//	st.Write([]byte("hello"))
//	st.CloseWrite()                                        // the peer reads io.EOF
//	io.ReadAll(st)
//	sess.Close()                                           // graceful: flush, GoAway, join
//
// A [Session] is a [net.Listener] (Accept returns the peer's streams) and
// a [Stream] is a [net.Conn] with deadlines, plus [Stream.CloseWrite],
// [Stream.CloseRead] and [Stream.Reset]. [Session.Listener] is a listener
// view whose Close only stops accepting, for servers such as net/http
// that close their listener to shut down and then drain.
//
// Opening has back-pressure: [Session.OpenStream] waits, until its
// context ends, while the peer holds 256 of our streams it has not
// accepted yet or while Config.MaxStreams streams are open, so a burst of
// opens is never refused ([Session.TryOpenStream] fails instead of
// waiting). No call waits on the carrier: a Read or Write pending at its
// deadline returns at once, whatever the transport is doing.
//
// # Model
//
// Each session runs two goroutines, started by [Client] or [Server] and
// joined by [Session.Close]: a reader that owns the transport's read side
// and a writer that owns its write side. Keepalive runs on a timer.
// Nothing runs per stream, per ping or per timer. An idle session holds
// no large buffer: read and write buffers come from shared pools while
// there is something to read or write. A Write hands its bytes to the
// writer and returns once they are taken; the writer sends control frames
// (ACKs, window updates, ping replies, resets) ahead of data, serves
// streams with data round-robin one frame at a time, and writes each
// batch of frames with one Write call.
// The reader checks every header before acting on it and never blocks on
// a stream: per-stream credit guarantees there is room.
//
// Each stream direction has credit: a writer blocks when the peer's
// window is used up, and the reader returns credit in batches as the
// application reads. Windows start at Config.InitialStreamWindow (at least
// the protocol's 256 KiB) and grow, up to Config.MaxStreamWindow, when a
// window is what holds its stream back: when the stream carries most of
// it per round trip. The round trip is the end-to-end one between the
// two sessions, measured with pings, whatever carries the session and
// whatever sits between the ends (a TCP carrier's own RTT is only its
// first hop's). Growth draws on a session-wide budget, so the memory a
// peer can make a session hold is bounded by
// MaxStreams*InitialStreamWindow + SessionReceiveBudget.
//
// Whatever core knows of its carrier beyond Read, Write and Close (a TCP
// connection's RTT and MSS, direct socket I/O, vectored writes, through
// wrappers with a TransparentConn method) it learns once, when the
// session starts; Config.OpaqueCarrier turns that off.
//
// Flow control has a consequence for request/response code: a stream
// holds at most one window of unread data in each direction. An echo
// client that writes N bytes, calls CloseWrite and only then reads the
// echo deadlocks once N exceeds the two windows (512 KiB with the
// default configuration): the echoing peer blocks writing the echo into
// the client's full window, stops reading, and the client's Write then
// blocks on the peer's full window. (Over raw TCP the same code fails
// later, at the size of the kernel's buffers.) Read and write at once,
// with the Write (and CloseWrite) in a goroutine of its own while the
// caller reads; Example (EchoLargerThanWindows) shows it.
//
// The session owns every timeout (keepalive, write timeout, open and
// close timeouts, stream deadlines) and never sets deadlines on the
// transport. docs/architecture.md in the repository has the details and
// docs/protocol.md the wire protocol.
//
// # Errors
//
//	ErrSessionClosed     the session ended; Err() wraps why (also net.ErrClosed)
//	*GoAwayError         the peer sent GoAway (errors.Is(err, ErrGoAway))
//	*StreamError         a stream was reset, with its code and side
//	*ProtocolError       the peer broke the protocol (errors.Is(err, ErrProtocol))
//	ErrStreamLimit       TryOpenStream with no room (OpenStream waits instead)
//	ErrStreamClosed      a second Close, or use of a closed stream (also net.ErrClosed)
//	*ConfigError         Config.Validate's (errors.Is(err, ErrInvalidConfig))
//	ErrKeepaliveTimeout  the peer went silent (a net.Error with Timeout())
//	ErrWriteTimeout      the transport stopped accepting writes
//	ErrReadClosed, ErrWriteClosed  use of a closed half (also net.ErrClosed)
//
// Stream deadlines produce an error with Timeout() true that matches
// os.ErrDeadlineExceeded. Read returns exactly io.EOF after the peer's
// FIN and all its data.
//
// # Dependencies
//
// core imports the standard library and, on Linux only,
// golang.org/x/sys/unix, to read the carrier's minimum RTT from TCP_INFO
// (a starting point for window auto-tuning). Nothing else: a program that
// imports core and transport/tcp builds none of the other carriers.
//
// # yamux compatibility
//
// With Config.ProtocolVersion set to 0 a session speaks the
// hashicorp/yamux protocol and interoperates with yamux peers (RST then
// carries no code and closing is not acknowledged).
package core
