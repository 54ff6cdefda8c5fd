package core

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Session multiplexes streams over one io.ReadWriteCloser. Create one with
// [Client] on the dialing side and [Server] on the accepting side. All
// methods are safe for concurrent use. A Session is a [net.Listener] whose
// Accept returns inbound streams.
type Session struct {
	conn    io.ReadWriteCloser
	cfg     Config
	client  bool
	version uint8
	d       dialect // what the version changes (dialect.go)
	log     *slog.Logger

	// Stream table, accept queue and GoAway state, guarded by mu.
	mu           sync.Mutex
	streams      map[uint32]*Stream
	nextID       uint32        // next ID OpenStream uses; 0 once exhausted
	peerMaxID    uint32        // highest ID the peer has opened
	acceptQ      []*Stream     // opened by the peer, not yet accepted
	unacked      int           // streams we opened that the peer has not acknowledged (see openWindow)
	goAwaySent   bool          // we refuse the peer's new streams
	remoteGoAway *GoAwayError  // the peer refuses our new streams
	drained      chan struct{} // closed when the last stream goes (Shutdown)
	acceptWake   chan struct{} // capacity 1: the accept queue has streams
	openWake     chan struct{} // capacity 1: an opener may find room (see OpenStream)

	sender                 // writer state, guarded by sendMu
	fr        *frameReader // owned by readLoop
	woken     atomic.Int32 // streams whose parked Read a small Data frame woke, not run since (Stream.Write)
	budget    budget
	rtt       atomic.Int64 // smoothed round-trip time in nanoseconds
	pinger    pinger
	keepalive keepalive // a timer, if KeepAliveInterval > 0

	// What the session knows of its carrier (carrier.go), chosen once in
	// newSession; sock is carrier.direct(), kept for the writer's hot path.
	// kernelRTT is the first hop's minimum RTT where the carrier has one
	// (pathrtt.go), in nanoseconds, and kernelRTTAt when it was last read
	// (monoNow).
	carrier     carrier
	tcpc        tcpCarrier // the carrier, if it is TCP (newCarrier)
	sock        *sockIO    // direct socket I/O over TCP (see sockio.go), or nil
	kernelRTT   atomic.Int64
	kernelRTTAt atomic.Int64
	sndMSS      atomic.Uint32 // the TCP carrier's send MSS, 0 if unknown (see batchLimit)
	stats       counters

	resets, empties eventLimit // flood limits, owned by readLoop

	// Lifecycle. closing is closed when an orderly close starts (local
	// Close, the peer's GoAway|FIN, or a fatal error); dead when the
	// session has ended and err is set.
	closeOnce  sync.Once
	closing    chan struct{}
	closeCause error // why the orderly close started (nil: local Close); written once before closing is closed
	closeTimer *time.Timer
	termOnce   sync.Once
	dead       chan struct{}
	err        error
	localFin   atomic.Bool // our final GoAway is written
	remoteFin  atomic.Bool // the peer's final GoAway was received
	wg         sync.WaitGroup
}

var _ net.Listener = (*Session)(nil)

// Client starts a session on the dialing side of conn. It opens odd stream
// IDs and sends the preface (a Ping) at once. The session owns conn from
// now on and closes it when the session ends.
func Client(conn io.ReadWriteCloser, cfg Config) (*Session, error) {
	return newSession(conn, cfg, true)
}

// Server starts a session on the accepting side of conn. It opens even
// stream IDs.
func Server(conn io.ReadWriteCloser, cfg Config) (*Session, error) {
	return newSession(conn, cfg, false)
}

func newSession(conn io.ReadWriteCloser, cfg Config, client bool) (*Session, error) {
	if conn == nil {
		return nil, errNilConn
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Session{
		conn:       conn,
		cfg:        cfg,
		client:     client,
		version:    cfg.ProtocolVersion,
		d:          dialectFor(cfg.ProtocolVersion),
		log:        cfg.Logger,
		streams:    make(map[uint32]*Stream),
		nextID:     2,
		acceptWake: make(chan struct{}, 1),
		openWake:   make(chan struct{}, 1),
		closing:    make(chan struct{}),
		dead:       make(chan struct{}),
	}
	s.carrier = newCarrier(conn, cfg, &s.tcpc)
	s.sock = s.carrier.direct()
	s.fr = newFrameReader(s.carrier.reader(), s.sock)
	if client {
		s.nextID = 1
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.budget.left.Store(int64(cfg.SessionReceiveBudget))
	s.resets = eventLimit{limit: cfg.RapidResetLimit, window: rapidResetWindow}
	s.empties = eventLimit{limit: cfg.EmptyFrameLimit, window: emptyFrameWindow}
	s.sender.init(s)
	s.pinger.init()
	s.readKernelInfo()
	// The first frame on the wire is a Ping: the client's preface, and an
	// RTT sample for window auto-tuning on both sides.
	s.sendPing()
	s.wg.Add(2)
	go s.readLoop()
	go s.writeLoop()
	if cfg.KeepAliveInterval > 0 {
		s.startKeepalive()
	}
	return s, nil
}

// OpenStream opens a new stream. The caller may write at once (up to the
// protocol's initial credit before the peer's ACK arrives): while there is
// room, opening costs no round trip.
//
// Opening has back-pressure. OpenStream waits while MaxStreams streams are
// open, and while the peer holds as many streams of ours it has not
// accepted yet as the protocol lets an opener have (openWindow, see
// docs/protocol.md), so a burst of opens never outruns a peer that accepts
// more slowly: nothing is refused. It returns when there is room, ctx ends
// (ctx's error), the peer sent GoAway (a *GoAwayError), the session can
// open no more IDs (ErrStreamsExhausted) or the session closes
// (ErrSessionClosed). [Session.TryOpenStream] fails instead of waiting.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.openStream(ctx)
}

// TryOpenStream is OpenStream without the wait: where OpenStream would
// wait for room it fails with ErrStreamLimit.
func (s *Session) TryOpenStream() (*Stream, error) { return s.openStream(nil) }

// openStream opens a stream, waiting for room until ctx ends; a nil ctx
// does not wait.
func (s *Session) openStream(ctx context.Context) (*Stream, error) {
	s.mu.Lock()
	for {
		if err := s.openErrLocked(); err != nil {
			s.mu.Unlock()
			signal(s.openWake) // every waiter fails the same way
			return nil, err
		}
		if s.openRoomLocked() {
			break
		}
		s.mu.Unlock()
		if ctx == nil {
			return nil, ErrStreamLimit
		}
		select {
		case <-s.openWake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closing:
			return nil, s.closedErr()
		}
		s.mu.Lock()
	}
	id := s.nextID
	s.nextID += 2
	exhausted := s.nextID < id // wrapped: this was the last ID
	if exhausted {
		s.nextID = 0
	}
	st := newStream(s, id, initialCredit)
	st.mark(lifeAccepted)
	s.streams[id] = st
	s.unacked++
	// The SYN is queued under mu so SYNs go out in ID order; queueing
	// never waits (see queueSYN).
	s.queueSYN(st)
	if s.openRoomLocked() {
		signal(s.openWake) // pass the turn on to the next waiter
	}
	s.mu.Unlock()
	s.wakeWriter()
	s.stats.streamsOpened.Add(1)
	if exhausted {
		// The session can open no more streams: tell the peer it is spent.
		s.GoAway()
	}
	if s.cfg.OpenTimeout > 0 {
		st.startOpenTimer(s.cfg.OpenTimeout)
	}
	return st, nil
}

// openErrLocked is why no stream can be opened now, or nil. Call with mu.
func (s *Session) openErrLocked() error {
	switch {
	case s.isClosing():
		return s.closedErr()
	case s.remoteGoAway != nil:
		return s.remoteGoAway
	case s.nextID == 0:
		return ErrStreamsExhausted
	}
	return nil
}

// openRoomLocked reports whether a stream may be opened now: fewer than
// MaxStreams are open and fewer than openWindow of ours wait for the
// peer's acknowledgement. Call with mu.
func (s *Session) openRoomLocked() bool {
	return len(s.streams) < s.cfg.MaxStreams && s.unacked < openWindow
}

// ackedLocked records that the peer acknowledged (or forgot) a stream we
// opened, which frees a place in its accept backlog. Call with mu, once
// per stream (lifeAcked guards it).
func (s *Session) ackedLocked() {
	s.unacked--
	signal(s.openWake)
}

// Open is OpenStream with a background context, returning a net.Conn.
func (s *Session) Open() (net.Conn, error) {
	st, err := s.OpenStream(context.Background())
	if err != nil {
		return nil, err
	}
	return st, nil
}

// AcceptStream waits for a stream opened by the peer. It fails when ctx
// ends or the session closes (ErrSessionClosed). Streams the peer reset
// before they were accepted are skipped.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	return s.acceptStream(ctx, nil)
}

// acceptStream is AcceptStream for a listener view too: it also fails
// (with errListenerClosed) once stop is closed.
func (s *Session) acceptStream(ctx context.Context, stop <-chan struct{}) (*Stream, error) {
	for {
		if stop != nil && isClosed(stop) {
			return nil, errListenerClosed
		}
		s.mu.Lock()
		if len(s.acceptQ) > 0 {
			st := s.acceptQ[0]
			s.acceptQ[0] = nil
			s.acceptQ = s.acceptQ[1:]
			if len(s.acceptQ) == 0 {
				s.acceptQ = nil
			} else {
				signal(s.acceptWake)
			}
			st.mark(lifeAccepted)
			s.mu.Unlock()
			s.stats.streamsAccepted.Add(1)
			s.sendAck(st)
			return st, nil
		}
		s.mu.Unlock()
		select {
		case <-s.acceptWake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stop:
			return nil, errListenerClosed
		case <-s.closing:
			return nil, s.closedErr()
		}
	}
}

// Accept waits for the next stream opened by the peer. It implements
// [net.Listener].
func (s *Session) Accept() (net.Conn, error) {
	st, err := s.AcceptStream(context.Background())
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Addr returns the transport's local address if it has one. It implements
// [net.Listener].
func (s *Session) Addr() net.Addr { return s.LocalAddr() }

// LocalAddr returns the transport's local address, or a placeholder.
func (s *Session) LocalAddr() net.Addr {
	if c, ok := s.conn.(interface{ LocalAddr() net.Addr }); ok {
		if a := c.LocalAddr(); a != nil {
			return a
		}
	}
	return muxAddr{}
}

// RemoteAddr returns the transport's remote address, or a placeholder.
func (s *Session) RemoteAddr() net.Addr {
	if c, ok := s.conn.(interface{ RemoteAddr() net.Addr }); ok {
		if a := c.RemoteAddr(); a != nil {
			return a
		}
	}
	return muxAddr{}
}

type muxAddr struct{}

func (muxAddr) Network() string { return "netmux" }
func (muxAddr) String() string  { return "netmux" }

// NumStreams returns the number of streams the session holds: open, or
// closed locally and waiting for the peer. It is 0 once the session has
// ended.
func (s *Session) NumStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// IsClient reports whether this is the dialing side.
func (s *Session) IsClient() bool { return s.client }

// Done returns a channel that is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.dead }

// Err returns why the session ended, or nil while it runs. After a local
// Close it is ErrSessionClosed; otherwise it matches ErrSessionClosed and
// wraps the cause: a *GoAwayError from the peer, a *ProtocolError,
// ErrKeepaliveTimeout, ErrWriteTimeout, or the transport's error.
func (s *Session) Err() error {
	select {
	case <-s.dead:
		return s.err
	default:
		return nil
	}
}

// GoAway tells the peer to open no more streams; streams it opens from now
// on are refused. Open streams carry on. It is the first step of Shutdown.
func (s *Session) GoAway() error {
	s.mu.Lock()
	sent := s.goAwaySent
	s.goAwaySent = true
	s.mu.Unlock()
	if s.isClosing() {
		return s.closedErr()
	}
	if !sent {
		s.queueLocal(frameHeader{typ: frameGoAway, length: uint32(CodeNoError)}, nil)
	}
	return nil
}

// removeStream forgets st once both of its halves are done.
func (s *Session) removeStream(st *Stream) {
	s.mu.Lock()
	if s.streams[st.id] == st {
		delete(s.streams, st.id)
	}
	if st.mark(lifeAcked)&lifeAcked == 0 {
		s.ackedLocked() // the peer forgot it too, or never saw it
	}
	signal(s.openWake) // a slot is free
	if !st.is(lifeAccepted) {
		for i, q := range s.acceptQ {
			if q == st {
				s.acceptQ = append(s.acceptQ[:i], s.acceptQ[i+1:]...)
				break
			}
		}
	}
	if len(s.streams) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// streamsLocked lists the session's streams. Call with mu held.
func (s *Session) streamsLocked() []*Stream {
	list := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	return list
}

// signal does a non-blocking send on a capacity-1 wake-up channel.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
