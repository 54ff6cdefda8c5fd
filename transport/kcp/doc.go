// Package kcp carries netmux sessions over KCP, a reliable, ordered
// protocol on top of UDP, using github.com/xtaci/kcp-go/v5 (v5.6.24).
// [Dialer] and [Listener] implement transport.Dialer and
// transport.Listener:
//
//	ln, err := kcp.Listen(":7777", kcp.Options{})
//	sl, err := transport.NewListener(ln, core.DefaultConfig()) // server sessions
//
//	sess, err := transport.Dial(ctx, kcp.Dialer{}, "host:7777", core.DefaultConfig())
//
// KCP trades bandwidth for latency: it retransmits early and
// aggressively, which pays off on lossy, long links where TCP stalls.
//
// # How a KCP connection differs from a net.Conn
//
// A [Conn] is an ordered, reliable byte stream, but it is not TCP:
//
//   - No handshake. Dial sends nothing and succeeds even when nobody
//     listens; a Listener sees a session only once the first bytes
//     arrive, so the dialer must write first. The netmux client preface
//     is that first write, and transport.Dial returns only after the
//     server answered it.
//   - No FIN. Close tells the peer nothing: the peer's Read never
//     returns io.EOF, and its Writes to a closed or vanished peer keep
//     succeeding until the window fills, then block.
//   - No dead-peer detection. KCP gives up on a packet after 20
//     retransmissions but never reports it; a session whose peer is gone
//     hangs forever. The netmux session's keepalive is the only thing
//     that ends it: keep Config.KeepAliveInterval above zero (the
//     default) whenever the carrier is KCP.
//   - Abortive close. kcp-go's Close drops the session at once with
//     everything not yet acknowledged (1 MiB written just before Close:
//     nothing arrived). The netmux session ends with a GoAway|FIN
//     handshake before it closes its carrier, so nothing of its own is
//     queued then. As a safety net, [Conn.Close] keeps the session
//     running for what is left of Options.Linger (150 ms) after the last
//     Write, so a session's Close over KCP takes about that much longer.
//     kcp-go v5.6.24 cannot report how much is still queued, so this is
//     a bound, not a guarantee: a raw byte stream over KCP needs an
//     acknowledgement of its own before Close, and so does yamux mode
//     (Config.ProtocolVersion 0), whose close is not acknowledged; use
//     protocol version 1 over KCP.
//   - No deadlines. kcp-go's deadlines race with Read and Write and are
//     ignored by a call already blocked; Conn does not offer them. The
//     netmux session implements every timeout itself and never sets a
//     carrier deadline.
//   - Addresses. LocalAddr and RemoteAddr are UDP addresses; a dialed
//     Conn's local address has the unspecified IP its socket is bound to.
//
// # Ghost sessions
//
// KCP sessions are keyed by the peer's address. When the server has
// dropped a session and the client still sends (a retransmission, a late
// ACK, data written before it learned of the close), kcp-go creates a
// new session with the same conversation id and returns it from Accept.
// Such a ghost starts in the middle of the old stream, so it never
// yields a netmux preface: transport.NewListener drops it when its
// preface check fails or times out, and it never becomes a session. Use
// a Listener through transport.NewListener or transport.Server, not on
// its own.
//
// # Listener
//
// Every session of a Listener shares its UDP socket. Close stops
// accepting (sessions arriving afterwards are dropped at once) but, as
// with TCP, leaves accepted sessions working; the socket closes with the
// last of them. kcp-go queues at most 128 sessions not yet accepted and
// ignores new addresses beyond that.
//
// # Profile and options
//
// The zero [Options] value is the profile measured best for carrying a
// stream mux (kcptun's "fast3", with larger windows):
//
//	stream mode, write delay off    each Write goes out at once
//	NoDelay(1, 10, 2, 1)            no-delay RTO (30 ms minimum), 10 ms tick,
//	                                fast resend after 2 skips, no congestion window
//	windows 1024/1024 packets       untuned (32/32, 100 ms tick): 0.2 MiB/s
//	MTU 1350                        UDP payload, encryption and FEC headers included
//	ACK no-delay on                 +15-40% on loopback; Options.DelayedACK turns it off
//	socket buffers 4 MiB            capped by the kernel's rmem_max/wmem_max
//
// Options.Key turns on AES encryption and Options.DataShards and
// Options.ParityShards Reed-Solomon forward error correction (kcptun
// uses 10 and 3). Both ends must use the same key and the same shards:
// a mismatch is not detected, the packets are silently discarded and
// the connection simply hangs (transport.Dial then fails on its first
// ping). One stream echoing 32 KiB writes on loopback (2 vCPUs, both
// ends in one process) moved about 98 MB/s each way with the default
// profile and 31 MB/s with AES and FEC 10/3.
//
// The encryption (AES-CFB with a CRC32 checksum) keeps a passive
// observer from reading the traffic. It is not authenticated: it proves
// nothing about the peer and does not stop an active attacker from
// tampering with or replaying packets. For security, run TLS over KCP
// (transport/tls wraps this Dialer and Listener), with or without the
// KCP key.
//
// # Goroutines
//
// kcp-go runs a process-wide timed scheduler, started when the package
// is initialised and never stopped: one goroutine per CPU in
// (*TimedSched).sched and one in (*TimedSched).prepend. Everything
// else ends with Close: a dialed Conn's two goroutines (socket reader
// and packet sender), an accepted Conn's sender, and the Listener's
// socket reader and accept goroutine once the Listener and all its
// accepted Conns are closed. Leak checks must ignore only the two
// scheduler functions.
package kcp
