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

	// The carrier's own minimum RTT, where it is a TCP connection (see
	// pathrtt.go): nanoseconds, and when it was last read (monoNow).
	tcp       *net.TCPConn
	sock      *sockIO // direct socket I/O over TCP (see sockio.go), or nil
	pathRTT   atomic.Int64
	pathRTTAt atomic.Int64
	sndMSS    atomic.Uint32 // the TCP carrier's send MSS, 0 if unknown (see batchLimit)
	stats     counters

	creditShift uint8 // streams return credit at size >> creditShift (see recvWindow.wantUpdate)

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
	s.tcp, s.sock = carrierIO(conn)
	var rd io.Reader = conn
	if s.sock != nil {
		rd = s.sock
	}
	s.fr = newFrameReader(rd, s.sock)
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
	s.creditShift = 2 // a quarter of the window
	if s.tcp != nil {
		s.creditShift = 1 // half: see recvWindow.wantUpdate
		s.readTCPInfo()
	}
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
	st.accepted = true
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
// per stream (Stream.acked guards it).
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
			st.accepted = true
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

// Shutdown closes the session gracefully: it sends GoAway, refuses
// (RST with CodeRefused, so the peer may retry them elsewhere) the streams
// still waiting to be accepted, lets accepted and local streams finish
// until ctx ends, then closes as Close does. It returns ctx's error if
// streams were still open when ctx ended.
func (s *Session) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	var err error
	s.mu.Lock()
	if len(s.streams) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained := s.drained
		s.mu.Unlock()
		select {
		case <-drained:
		case <-s.dead:
		case <-ctx.Done():
			err = ctx.Err()
		}
	} else {
		s.mu.Unlock()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// stopAccepting sends GoAway, so the peer opens no more streams, and
// refuses the streams still waiting to be accepted (RST with
// CodeRefused: the peer may retry them elsewhere).
func (s *Session) stopAccepting() {
	_ = s.GoAway()
	s.mu.Lock()
	queued := s.acceptQ
	s.acceptQ = nil
	s.mu.Unlock()
	for _, st := range queued {
		st.abort(CodeRefused, false)
	}
}

// Close ends the session: every byte of every completed Write is sent,
// then the final GoAway; Close waits (up to Config.CloseTimeout) for the
// peer's answering GoAway, closes the transport and returns once every
// goroutine the session started has exited. Pending Read, Write, Accept
// and Open calls fail with ErrSessionClosed. Close is idempotent.
func (s *Session) Close() error {
	s.startClose(nil)
	<-s.dead
	s.wg.Wait()
	s.waitKeepalive()
	return nil
}

// startClose begins the orderly close (once): new streams and writes are
// refused, blocked writers fail, and the writer flushes and sends the
// final GoAway. The close timer bounds the whole exchange.
func (s *Session) startClose(cause error) {
	s.closeOnce.Do(func() {
		s.closeCause = cause // published by closing (and sendMu) below
		s.sendMu.Lock()
		s.sender.closing = true
		s.sendMu.Unlock()
		close(s.closing)
		s.wakeWriters()
		s.wakeWriter()
		s.closeTimer = time.AfterFunc(s.cfg.CloseTimeout, func() {
			s.terminate(cause)
		})
	})
}

// isClosing reports whether the orderly close has started.
func (s *Session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// finDone ends the session once both final GoAways have crossed.
func (s *Session) finDone() {
	if s.localFin.Load() && s.remoteFin.Load() {
		s.terminate(s.closeCause)
	}
}

// fail ends the session because of err: the peer is told with a final
// GoAway carrying a code when the writer can still reach it, and the
// close timer bounds the attempt.
func (s *Session) fail(err error) {
	if isPeerFault(err) {
		s.log.Warn("netmux: closing session", "err", err, "remote", s.RemoteAddr().String())
	}
	s.sendMu.Lock()
	if s.sender.abort == nil {
		s.sender.abort = err
	}
	s.sendMu.Unlock()
	s.startClose(err)
	s.wakeWriter()
}

// terminate ends the session at once (once): it records the cause, closes
// the transport, which unblocks the reader and the writer, and closes
// dead, which wakes every waiting call.
func (s *Session) terminate(cause error) {
	s.termOnce.Do(func() {
		// The transport is going: the writer takes nothing more, so a
		// Write still pending fails instead of handing its rest to a
		// batch that can only fail.
		s.sendMu.Lock()
		s.sender.finished = true
		s.sendMu.Unlock()
		s.startClose(cause) // no-op if already closing; makes closing a prefix of dead
		s.err = sessionClosedBy(cause)
		// Forgotten before dead is closed, so that whoever sees the
		// session dead sees it hold no streams.
		streams := s.forgetStreams()
		s.stopKeepalive() // before dead: Close waits for a tick in progress
		close(s.dead)
		wakeReaders(streams)
		// Nothing the session started may keep it reachable: every
		// stream timer and deadline timer stops.
		for _, st := range streams {
			st.stopTimers()
		}
		if s.closeTimer != nil {
			s.closeTimer.Stop()
		}
		s.conn.Close()
		s.sender.stopTimer()
		s.pinger.failAll()
	})
}

// closedErr is the error for calls that have seen the session closing
// (through the closing channel or sender.closing) or dead.
func (s *Session) closedErr() error {
	select {
	case <-s.dead:
		return s.err
	default:
		return sessionClosedBy(s.closeCause)
	}
}

// removeStream forgets st once both of its halves are done.
func (s *Session) removeStream(st *Stream) {
	s.mu.Lock()
	if s.streams[st.id] == st {
		delete(s.streams, st.id)
	}
	if !st.acked.Swap(true) {
		s.ackedLocked() // the peer forgot it too, or never saw it
	}
	signal(s.openWake) // a slot is free
	if !st.accepted {
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

// forgetStreams drops every stream from a session that is ending, which
// then holds none, and returns them. The application's Stream values keep
// failing with the session's error, and frames the reader still has
// buffered find their stream forgotten, as after a normal close.
func (s *Session) forgetStreams() []*Stream {
	s.mu.Lock()
	list := s.streamsLocked()
	clear(s.streams)
	s.acceptQ = nil
	s.mu.Unlock()
	return list
}

// streamsLocked lists the session's streams. Call with mu held.
func (s *Session) streamsLocked() []*Stream {
	list := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	return list
}

// wakeWriters wakes every blocked Write once closing is closed, and
// wakeReaders every blocked Read of streams once dead is closed: they wait
// on their own channels only, not on the session's, whose locks hundreds
// of blocked streams would otherwise contend for on every wake-up. A call
// that started waiting earlier is woken here; one that starts later sees
// the closed channel before it waits (under the same stream lock). Call
// them without locks.
func (s *Session) wakeWriters() {
	s.mu.Lock()
	list := s.streamsLocked()
	s.mu.Unlock()
	s.sendMu.Lock()
	for _, st := range list {
		st.notifyWriter()
	}
	s.sendMu.Unlock()
}

func wakeReaders(streams []*Stream) {
	for _, st := range streams {
		st.mu.Lock()
		st.wakeReaderLocked()
		st.mu.Unlock()
	}
}

// signal does a non-blocking send on a capacity-1 wake-up channel.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
