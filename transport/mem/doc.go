// Package mem provides a buffered, in-memory, full-duplex connection for
// tests, examples and benchmarks, plus a tiny name-based Listener/Dialer so
// that code written against a network can run entirely in memory.
//
// # Pipe
//
// [Pipe] returns two connected [*Conn] values. Each implements [net.Conn]
// and, like a TCP connection, [Conn.CloseWrite] for half-close.
//
// Unlike [net.Pipe], which is synchronous (every Write blocks until a Read
// on the other end consumes it), each direction of a mem pipe has its own
// bounded buffer (256 KiB by default, see [WithBufferSize]):
//
//   - Write copies its data into the buffer and returns as soon as all of it
//     is buffered, without waiting for the peer to Read. When the buffer is
//     full, Write blocks until the peer reads (backpressure), the connection
//     is closed, or the write deadline passes. Write never retains the
//     caller's slice.
//   - Read returns whatever is buffered (up to len(p)) and blocks only when
//     the buffer is empty.
//   - Concurrent Writes on one Conn are atomic with respect to each other:
//     the bytes of one Write are never interleaved with another's.
//
// This exposes the behaviour of real transports (writes that do not
// rendezvous with reads, bounded kernel buffers, flow control stalls) that
// net.Pipe hides, while staying deterministic and fast.
//
// # Closing
//
// Close unblocks pending Reads and Writes on the Conn, which then fail with
// an error matching [net.ErrClosed]. The peer can still Read the data that
// was buffered before Close and then gets [io.EOF]; the peer's Writes fail
// with an error matching [io.ErrClosedPipe]. CloseWrite shuts down only the
// sending direction: the peer reads the remaining data and then io.EOF,
// while the local Conn can keep reading.
//
// # Deadlines and testing/synctest
//
// Deadlines follow net.Conn: they are absolute, can be changed at any time
// (also while a Read or Write is blocked) and a zero time clears them.
// Timeouts return errors for which errors.Is(err, os.ErrDeadlineExceeded)
// holds and that implement [net.Error] with Timeout() == true.
//
// A Conn blocks only in [sync.Cond.Wait] and implements deadlines with
// [time.AfterFunc]; apart from those short-lived timer callbacks the package
// starts no goroutines. Goroutines blocked on a Conn (or in Accept or Dial)
// are therefore "durably blocked" in the sense of [testing/synctest], and
// deadlines fire on the bubble's fake clock. A Conn or Listener used inside
// a synctest bubble must be created and used only inside that bubble.
//
// # Listener and Dialer
//
// [Listen] registers a Listener under a name in a process-wide registry and
// [Dialer.Dial] connects to it by that name, each connection being a fresh
// Pipe. Dials are queued in a bounded backlog until accepted.
package mem
