// Package conformance proves that a transport carries netmux correctly.
// A transport author hands it a way to make connected pairs and calls
// [Run] from one short _test.go file:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
//			// dial and accept one connection of your transport
//		})
//	}
//
// Every check runs as a named subtest, in a fixed order, under its own
// timeout (a hang is reported by name and its connections are closed),
// and ends with a goroutine-leak check against a snapshot taken at its
// start. BulkBothWays also fails as soon as a direction it still waits on
// has moved no byte for the progress timeout (10 s, [WithProgressTimeout]),
// naming the direction and the bytes sent and received, so a transport
// that loses data fails in seconds rather than at the check timeout. Options declare what a transport cannot do; a skipped check says
// why. The suite needs nothing from this repository's adapters.
//
// Transport checks, on the raw pair:
//
//	BulkBothWays     32 MiB of random bytes each way at once arrive intact and in order
//	SmallWrites      a small write is delivered without waiting for more
//	CloseReachesPeer closing one end ends the other's Read (error or EOF) instead of hanging
//	CloseUnblocksRead Close unblocks a pending Read on the same end
//	DoubleClose      closing twice is safe
//
// Mux checks, on sessions built over the pair (the session owns every
// timeout, so these must pass over any carrier that passes the above):
//
//	OpenAccept       streams open and are accepted from both sides, with the right IDs
//	Echo             data echoes back intact
//	LargeWrite       one 16 MiB Write arrives intact and in order
//	ManyStreams      200 concurrent streams with random sizes (0-1 MiB), checksummed
//	HalfClose        CloseWrite gives EOF one way while the other keeps working, both ways
//	Reset            Reset(code) reaches the peer's Read and Write with the code
//	StalledReader    a stream nobody reads does not stop another moving 32 MiB; it holds no more than its window
//	Deadlines        read and write deadlines time out with os.ErrDeadlineExceeded and recover
//	StreamLimit      streams past MaxStreams are refused; the limit holds on both sides
//	GoAway           after Shutdown starts, new opens fail with ErrGoAway while open streams finish
//	GracefulClose    Close delivers every byte written before it (20 rounds, 5 under -short)
//	Keepalive        a peer that goes silent (stalled transport) ends the session with ErrKeepaliveTimeout
//	CloseUnblocks    session Close unblocks pending Read, Write, Accept and Ping
//	AbruptClose      a connection cut mid-frame ends both sessions with errors; nothing hangs
//	TransportHalfClose the carrier half-closed under a session ends it with an error
//	NetConn          golang.org/x/net/nettest.TestConn on a pair of streams
//
// [Faulty] wraps any connection to add latency, limit bandwidth, split
// reads and writes at random sizes, stall, or cut the connection in the
// middle of a frame; the package's own tests run the mux checks over the
// in-memory transport through each fault, and run the suite over
// deliberately broken transports to prove that it fails them.
//
// Attack checks ([RunAttacks], also part of Run) drive a server session
// from a [HostilePeer] that sends raw frames with any header and reads or
// withholds reads at will, one check per attack class A1 to A20 of the
// project's threat list (HTTP/2 Rapid Reset, ping, reset and empty-frame
// floods, data dribble, slow reads, a stream nobody reads beside streams
// moving 100 MB, window overflow, oversized lengths, SYN floods, stream-ID
// misuse, invalid headers, truncation, rejection leaks, write lengths
// past 2^32 and the largest legal credit, peers ignoring close, keepalive
// under load). A09's 100 MB is divided by [WithScale] and by 8 under
// -short (12.5 MB); A18's 4 GiB writes need Linux (a read-only mapping of
// the zero page) and are skipped elsewhere. Floods send 100,000
// frames; the victim must end with the right GoAway code where the class
// is fatal, keep working where it is not, and keep its goroutine and heap
// growth under fixed bounds. [Soak] churns thousands of streams for a
// minute and checks that everything returns to baseline.
package conformance
