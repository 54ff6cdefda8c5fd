package core

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stream is one bidirectional byte stream of a session. It implements
// [net.Conn] with deadlines, plus half-close ([Stream.CloseWrite],
// [Stream.CloseRead]) and abort ([Stream.Reset]). Methods are safe for
// concurrent use; concurrent Reads (or Writes) are serialised.
//
// Lifecycle. A stream's state is one value, its life (below): the set
// of lifecycle events that have happened to it. Every transition is in
// this file. A stream is opened (Session.openStream: SYN queued, counted
// until acknowledged, recvAck) or accepted (incomingStream, AcceptStream);
// each half then ends once: the send half when our FIN is written
// (sendDone, after CloseWrite or Close) or on a reset, the receive half
// when the peer's FIN arrives (recvFin) or on a reset (abort,
// resetAfterFin). When both have ended (setDone) the stream is forgotten
// (forget): it leaves NumStreams and frees its slot, whether or not the
// application read the final EOF.
//
// Two locks guard a stream: mu for the receive half and the read
// deadline, the session's sendMu for the send half and the write
// deadline. The other fields are bookkeeping of the session's queues
// (the ready ring, the control queue, the woken count), not state.
type Stream struct {
	s     *Session
	id    uint32
	state atomic.Uint32 // a life; see mark

	// Receive half, guarded by mu. reads serialises Reads.
	mu       sync.Mutex
	reads    turnstile
	rw       recvWindow
	buf      recvBuffer
	readErr  error         // set by a reset
	readWake chan struct{} // capacity 1, made by the first blocked Read
	timer    *time.Timer   // open timeout, then close timeout
	parked   bool          // a Read waits on readWake
	woken    bool          // the reader woke that Read, which has not run since (counted in Session.woken)

	// Send half, guarded by s.sendMu. writes serialises Writes.
	writes     turnstile
	credit     uint64 // bytes the peer lets us send
	pend       []byte // rest of the current Write
	written    int    // bytes of the current Write taken
	writeErr   error  // what Write returns from now on
	writeWake  chan struct{}
	next, prev *Stream // ready ring links
	inReady    bool    // in the ready ring
	lent       bool    // the batch being written holds part of pend's buffer
	synQueued  bool    // our SYN waits in the control queue (withdrawSYNLocked)
	rstCode    ErrorCode
	blockedAt  int64 // ran out of credit at (monoNow; 0: has credit)

	wuQueued      atomic.Bool   // a window update is in the control queue
	pendingCredit atomic.Uint32 // credit that update will carry

	rdl deadline // guarded by mu
	wdl deadline // guarded by s.sendMu
}

// life is a stream's lifecycle state: the set of events that have
// happened to it. Each event happens once, so a life only gains bits, and
// every transition of a stream is marking one or more of them. A bit is
// marked only under the lock named beside it, so code holding that lock
// sees it stable; any code may test it without a lock.
type life uint32

const (
	// Opening.
	lifeAcked    life = 1 << iota // the peer acknowledged our SYN or forgot the stream; inbound streams from the start (no lock: marked once)
	lifeAccepted                  // handed to the application: opened here, or accepted (s.mu)

	// Receive half (mu).
	lifeFinRecv    // the peer's FIN arrived
	lifeReadClosed // CloseRead or Close: data is discarded, no credit returned
	lifeClosed     // Close: data arriving now is answered with RST
	lifeReset      // reset by either side

	// Send half (s.sendMu).
	lifeFinQueued // CloseWrite or Close: the writer owes the peer our FIN
	lifeFinSent   // the FIN is written, or never will be (reset)
	lifeRstQueued // an RST (rstCode) follows the FIN

	// End (no lock: setDone).
	lifeSendDone // FIN written, or reset
	lifeRecvDone // FIN received, or reset
	lifeRemoved  // forgotten by the session
)

// is reports whether any of the events in b has happened.
func (st *Stream) is(b life) bool { return life(st.state.Load())&b != 0 }

// mark records the events in b, under the lock each needs, and returns
// the life before.
func (st *Stream) mark(b life) life { return life(st.state.Or(uint32(b))) }

var _ net.Conn = (*Stream)(nil)

func newStream(s *Session, id uint32, credit uint64) *Stream {
	st := &Stream{s: s, id: id, credit: credit}
	st.rw.size = s.cfg.InitialStreamWindow
	return st
}

// ID returns the stream ID: odd for streams the client opened, even for
// the server's.
func (st *Stream) ID() uint32 { return st.id }

// Session returns the session the stream belongs to.
func (st *Stream) Session() *Session { return st.s }

// LocalAddr returns the session's local address.
func (st *Stream) LocalAddr() net.Addr { return st.s.LocalAddr() }

// RemoteAddr returns the session's remote address.
func (st *Stream) RemoteAddr() net.Addr { return st.s.RemoteAddr() }

// Read reads data the peer sent. After the peer's FIN and all its data it
// returns io.EOF. It fails with a *StreamError after a reset, a timeout
// error (os.ErrDeadlineExceeded) at the read deadline, ErrReadClosed after
// CloseRead or Close, and the session's error once the session has ended
// and no data is left.
func (st *Stream) Read(p []byte) (int, error) {
	if st.rdl.expired() {
		return 0, errDeadline
	}
	s := st.s
	st.mu.Lock()
	if err := st.reads.enter(&st.mu, &st.rdl); err != nil {
		st.mu.Unlock()
		return 0, err
	}
	for {
		st.unparkLocked()
		if st.buf.len() > 0 && len(p) > 0 {
			n := st.buf.read(p)
			st.rw.consume(uint32(n))
			var delta uint32
			if !st.is(lifeFinRecv | lifeReadClosed) {
				if rtt := s.tuningRTT(); st.rw.wantUpdate(rtt) {
					delta = st.rw.update(monoNow(), rtt, s.cfg.MaxStreamWindow, &s.budget, s.stats.bytesIn.Load())
				}
			}
			st.reads.leave()
			st.mu.Unlock()
			if delta > 0 {
				s.sendWindowUpdate(st, delta)
				s.refreshRTT()
			}
			return n, nil
		}
		var err error
		switch {
		case st.readErr != nil:
			err = st.readErr
		case st.is(lifeReadClosed):
			err = ErrReadClosed
		case st.is(lifeFinRecv):
			err = io.EOF
		case len(p) == 0:
		default:
			select {
			case <-s.dead:
				err = s.err
			default:
				if st.readWake == nil {
					st.readWake = make(chan struct{}, 1)
				}
			}
		}
		if err != nil || len(p) == 0 {
			st.reads.leave()
			st.mu.Unlock()
			return 0, err
		}
		wake, expired := st.readWake, st.rdl.wait()
		st.parked = true
		st.mu.Unlock()
		select { // not on s.dead: terminate wakes every stream
		case <-wake:
		case <-expired:
			st.mu.Lock()
			st.unparkLocked()
			st.reads.leave()
			st.mu.Unlock()
			return 0, errDeadline
		}
		st.mu.Lock()
	}
}

// unparkLocked records that the stream's Read is running. Call with mu.
func (st *Stream) unparkLocked() {
	st.parked = false
	if st.woken {
		st.woken = false
		st.s.woken.Add(-1)
	}
}

// wakeReaderLocked wakes a blocked Read. Call with mu held.
func (st *Stream) wakeReaderLocked() {
	if st.readWake != nil {
		signal(st.readWake)
	}
}

// Write sends p, blocking while the peer's credit is used up. It returns
// once all of p has been taken by the session's writer (the caller may
// then reuse p). At the write deadline it returns the bytes taken so far
// and a timeout error (os.ErrDeadlineExceeded). It fails with a
// *StreamError after a reset, ErrWriteClosed after CloseWrite or Close,
// and ErrSessionClosed when the session is closing.
func (st *Stream) Write(p []byte) (int, error) {
	if st.wdl.expired() {
		return 0, errDeadline
	}
	s := st.s
	s.sendMu.Lock()
	if err := st.writes.enter(&s.sendMu, &st.wdl); err != nil {
		s.sendMu.Unlock()
		return 0, err
	}
	if err := st.writeErrLocked(); err != nil || len(p) == 0 {
		st.writes.leave()
		s.sendMu.Unlock()
		return 0, err
	}
	st.pend, st.written = p, 0
	share := false
	switch {
	case !st.canSendLocked():
		st.blockedAt = monoNow()
	case len(p) < smallWrite:
		// A small write goes to the front of the next batch, so that
		// it does not wait behind a batch's worth of bulk data from
		// other streams, on this side and again in the peer's reader.
		s.sender.ready.pushFront(st)
		// Goroutines whose Reads the reader woke and that have yet to
		// run are likely to write too (a server's handlers answering
		// the requests of one transport read): writing now would cost
		// each of them a transport write of its own, the whole TCP
		// path on loopback. The frame is left to whoever writes next:
		// the last of them, inline, or the writer goroutine, which
		// first lets them run once (writeLoop).
		if s.woken.Load() > 0 {
			share, s.sender.yield = true, true
		}
	default:
		s.sender.ready.push(st)
	}
	if st.writeWake == nil {
		st.writeWake = make(chan struct{}, 1)
	}
	wake, expired := st.writeWake, st.wdl.wait()
	s.sendMu.Unlock()
	// The Write may write to the socket itself, but never waits on it
	// (flushInline): its deadline stays in force.
	if share || !s.flushInline(st) {
		s.wakeWriter()
	}

	var stop, stopped error // stopped: the error of a Write that withdrew its rest
	for {
		dl := expired
		if stop != nil {
			dl = nil // stopped: only waiting for a loan to end
		}
		select { // not on s.closing: startClose wakes every stream
		case <-wake:
			if s.isClosing() {
				stop = s.closedErr()
			}
		case <-dl:
			stop = errDeadline
		}
		s.sendMu.Lock()
		if stop != nil && st.pend != nil {
			st.pend, stopped = nil, stop
			if !st.is(lifeFinQueued | lifeRstQueued) {
				s.sender.ready.remove(st)
			}
		}
		// Done when all of p is taken, or the rest withdrawn (by a reset,
		// CloseWrite, or a stop), and no batch in flight holds p.
		if st.pend == nil && !st.lent {
			n, err := st.written, stopped
			if err == nil && n < len(p) {
				err = st.writeErrLocked()
			}
			st.writes.leave()
			s.sendMu.Unlock()
			return n, err
		}
		expired = st.wdl.wait()
		s.sendMu.Unlock()
	}
}

// writeErrLocked is the error a Write gets now, or nil. Call with sendMu.
func (st *Stream) writeErrLocked() error {
	switch {
	case st.writeErr != nil:
		return st.writeErr
	case st.is(lifeFinQueued):
		return ErrWriteClosed
	case st.s.sender.closing:
		return st.s.closedErr()
	}
	return nil
}

// canSendLocked reports whether the pending Write can make progress: it
// has data, and either enough credit for a worthwhile frame or for all of
// it. Call with sendMu held.
func (st *Stream) canSendLocked() bool {
	n := uint64(len(st.pend))
	return n > 0 && (st.credit >= minChunk || n <= st.credit)
}

// notifyWriter wakes a blocked Write. Call with sendMu held.
func (st *Stream) notifyWriter() {
	if st.writeWake != nil {
		signal(st.writeWake)
	}
}

// withdrawLocked fails the pending Write, if any. Call with sendMu held.
func (st *Stream) withdrawLocked() {
	if st.pend != nil {
		st.pend = nil
		st.notifyWriter()
	}
}

// CloseWrite half-closes the stream: the peer reads io.EOF after the data
// already written, while this side can still read. A pending Write fails
// with ErrWriteClosed. Calling it again does nothing; after Close it fails
// with ErrStreamClosed, after a reset with the *StreamError, and once the
// session has ended with its error.
func (st *Stream) CloseWrite() error {
	if err := st.usable(); err != nil {
		return err
	}
	s := st.s
	s.sendMu.Lock()
	if st.writeErr != nil {
		err := st.writeErr
		s.sendMu.Unlock()
		return err
	}
	st.closeWriteLocked()
	s.sendMu.Unlock()
	s.wakeWriter()
	return nil
}

// closeWriteLocked queues the FIN once. Call with sendMu held; the
// caller wakes the writer.
func (st *Stream) closeWriteLocked() {
	if st.is(lifeFinQueued) || st.writeErr != nil {
		return
	}
	st.mark(lifeFinQueued)
	st.withdrawLocked()
	st.s.sender.ready.push(st)
}

// usable reports ErrStreamClosed after Close, the session's error once it
// has ended, or nil.
func (st *Stream) usable() error {
	if st.is(lifeClosed) {
		return ErrStreamClosed
	}
	select {
	case <-st.s.dead:
		return st.s.err
	default:
		return nil
	}
}

// CloseRead discards buffered and future data and stops returning credit,
// so the peer's writes block once its window is used up. Read then fails
// with ErrReadClosed. The write half is unaffected. After Close it fails
// with ErrStreamClosed, and once the session has ended with its error.
func (st *Stream) CloseRead() error {
	if err := st.usable(); err != nil {
		return err
	}
	st.mu.Lock()
	st.mark(lifeReadClosed)
	st.buf.reset()
	st.wakeReaderLocked()
	st.mu.Unlock()
	return nil
}

// Close closes both halves: written data is delivered, followed by FIN;
// buffered data is discarded. If unread data was discarded or more data
// arrives, the peer's stream is reset with CodeCancel (after our FIN, so
// the peer still reads everything we wrote). The stream is forgotten once
// the peer's FIN arrives (whether or not anything reads it), or reset after
// Config.StreamCloseTimeout. Pending Read and Write calls fail. A second
// Close fails with ErrStreamClosed, which matches net.ErrClosed.
func (st *Stream) Close() error {
	s := st.s
	st.mu.Lock()
	if st.is(lifeClosed) {
		st.mu.Unlock()
		return ErrStreamClosed
	}
	st.mark(lifeClosed | lifeReadClosed)
	unread := st.buf.len() > 0
	st.buf.reset()
	st.wakeReaderLocked()
	st.mu.Unlock()

	s.sendMu.Lock()
	st.closeWriteLocked()
	s.sendMu.Unlock()
	s.wakeWriter()

	st.mu.Lock()
	peerOpen := !st.is(lifeFinRecv | lifeReset)
	if peerOpen && !unread && s.cfg.StreamCloseTimeout > 0 && !isClosed(s.dead) {
		st.setTimerLocked(s.cfg.StreamCloseTimeout, func() { st.abort(CodeTimeout, false) })
	}
	st.mu.Unlock()
	if peerOpen && unread {
		st.resetAfterFin(CodeCancel)
	}
	return nil
}

// Reset aborts both halves with code: pending and later Reads and Writes
// here fail with a *StreamError, and the peer's fail with a *StreamError
// carrying code (Remote true). Data not yet sent is dropped. Resetting a
// stream already reset or finished does nothing; once the session has
// ended Reset fails with the session's error.
func (st *Stream) Reset(code ErrorCode) error {
	select {
	case <-st.s.dead:
		return st.s.err
	default:
	}
	st.abort(code, false)
	return nil
}

// abort resets the stream (once). A local abort sends RST ahead of any
// queued data; a remote one (the peer's RST) leaves data the peer finished
// sending (its FIN arrived) readable.
func (st *Stream) abort(code ErrorCode, remote bool) {
	s := st.s
	serr := &StreamError{StreamID: st.id, Code: code, Remote: remote}
	st.mu.Lock()
	if st.is(lifeReset) {
		st.mu.Unlock()
		return
	}
	st.mark(lifeReset)
	if !remote || !st.is(lifeFinRecv) {
		st.readErr = serr
		st.buf.reset()
	}
	st.stopTimerLocked()
	st.wakeReaderLocked()
	st.mu.Unlock()

	s.sendMu.Lock()
	if st.writeErr == nil {
		st.writeErr = serr
	}
	st.withdrawLocked()
	s.sender.ready.remove(st)
	st.mark(lifeFinSent) // no FIN after a reset
	unseen := s.withdrawSYNLocked(st)
	s.sendMu.Unlock()

	s.stats.streamsReset.Add(1)
	if !remote && !unseen && !st.is(lifeRemoved) {
		s.queueRST(st.id, code)
	}
	st.setDone(lifeSendDone | lifeRecvDone)
}

// resetAfterFin resets the stream with code after its FIN has been
// written, so the peer first reads all our data.
func (st *Stream) resetAfterFin(code ErrorCode) {
	s := st.s
	st.mu.Lock()
	if st.is(lifeReset) {
		st.mu.Unlock()
		return
	}
	st.mark(lifeReset)
	if st.readErr == nil {
		st.readErr = &StreamError{StreamID: st.id, Code: code}
	}
	st.buf.reset()
	st.stopTimerLocked()
	st.mu.Unlock()

	s.sendMu.Lock()
	queued := st.is(lifeFinQueued) && !st.is(lifeFinSent)
	if queued {
		st.rstCode = code
		st.mark(lifeRstQueued)
	}
	s.sendMu.Unlock()
	s.stats.streamsReset.Add(1)
	if queued { // the writer sends FIN then RST and marks the send half done
		st.setDone(lifeRecvDone)
		return
	}
	s.queueRST(st.id, code)
	st.setDone(lifeSendDone | lifeRecvDone)
}

// recvAck records the peer's ACK, which frees a place in its accept
// backlog for our next open, and stops the open timer.
func (st *Stream) recvAck() {
	if st.mark(lifeAcked)&lifeAcked == 0 {
		s := st.s
		s.mu.Lock()
		s.ackedLocked()
		s.mu.Unlock()
	}
	st.mu.Lock()
	if !st.is(lifeClosed) {
		st.stopTimerLocked()
	}
	st.mu.Unlock()
}

// recvFin records the peer's FIN: Read returns io.EOF after the data.
func (st *Stream) recvFin() {
	st.mu.Lock()
	if st.is(lifeFinRecv) {
		st.mu.Unlock()
		return
	}
	st.mark(lifeFinRecv)
	if st.is(lifeClosed) {
		st.stopTimerLocked()
	}
	st.wakeReaderLocked()
	st.mu.Unlock()
	st.setDone(lifeRecvDone)
}

// sendDone is called by the writer once the FIN (and any RST after it)
// has been written.
func (st *Stream) sendDone() { st.setDone(lifeSendDone) }

// setDone marks halves done and forgets the stream once both are.
func (st *Stream) setDone(halves life) {
	const both = lifeSendDone | lifeRecvDone
	if (st.mark(halves)|halves)&both == both && st.mark(lifeRemoved)&lifeRemoved == 0 {
		st.forget()
	}
}

// forget releases what the stream holds in the session.
func (st *Stream) forget() {
	s := st.s
	st.mu.Lock()
	st.stopTimerLocked()
	// What the window took from the budget (it never shrinks below the
	// window it started with; max only guards the subtraction).
	grown := uint64(max(st.rw.size, s.cfg.InitialStreamWindow) - s.cfg.InitialStreamWindow)
	st.rw.size = s.cfg.InitialStreamWindow
	st.mu.Unlock()
	s.budget.give(grown)
	s.removeStream(st)
}

// setTimerLocked replaces the stream's timer. Call with mu held.
func (st *Stream) setTimerLocked(d time.Duration, f func()) {
	st.stopTimerLocked()
	st.timer = time.AfterFunc(d, f)
}

func (st *Stream) stopTimerLocked() {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
}

// stopTimers stops the stream's open or close timer and its deadline
// timers, for a session that has ended.
func (st *Stream) stopTimers() {
	st.mu.Lock()
	st.stopTimerLocked()
	st.rdl.stopTimer()
	st.mu.Unlock()
	st.s.sendMu.Lock()
	st.wdl.stopTimer()
	st.s.sendMu.Unlock()
}

// startOpenTimer resets the stream if the peer's ACK does not arrive in d.
func (st *Stream) startOpenTimer(d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.is(lifeReset | lifeClosed) {
		return
	}
	st.setTimerLocked(d, func() {
		s := st.s
		s.sendMu.Lock()
		// An acceptor whose frames all acknowledge (yamux) may send none
		// after our FIN; yamux itself stops its open timer once it closes.
		acked := st.is(lifeAcked) || (s.d.anyFrameAcks && st.is(lifeFinQueued))
		s.sendMu.Unlock()
		if !acked {
			st.abort(CodeTimeout, false)
		}
	})
}

// SetDeadline sets the read and write deadlines. It fails with
// ErrStreamClosed after Close, and with the session's error once the
// session has ended, as a closed net.Conn's does.
func (st *Stream) SetDeadline(t time.Time) error {
	if err := st.SetReadDeadline(t); err != nil {
		return err
	}
	return st.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for pending and future Reads: a Read
// waiting when it passes returns a timeout error at once.
func (st *Stream) SetReadDeadline(t time.Time) error {
	if err := st.usable(); err != nil {
		return err
	}
	st.mu.Lock()
	st.rdl.set(&st.mu, t)
	st.mu.Unlock()
	return nil
}

// SetWriteDeadline sets the deadline for pending and future Writes: a
// Write waiting when it passes returns at once with the bytes the session
// took and a timeout error. A Write never waits on the carrier itself.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	if err := st.usable(); err != nil {
		return err
	}
	s := st.s
	s.sendMu.Lock()
	st.wdl.set(&s.sendMu, t)
	s.sendMu.Unlock()
	return nil
}
