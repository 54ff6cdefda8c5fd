package core

import (
	"errors"
	"io"
)

// The reader goroutine owns the transport's read side. It validates each
// header before acting on it, never blocks on a stream (credit guarantees
// room), and is the only code that creates inbound streams.

// errStopReading ends readLoop after the peer's final GoAway.
var errStopReading = errors.New("netmux: peer sent its final frame")

func (s *Session) readLoop() {
	defer s.wg.Done()
	defer s.fr.close()
	var hb [frameHeaderLen]byte
	for {
		if _, err := io.ReadFull(s.fr, hb[:]); err != nil {
			s.readFailed(err)
			return
		}
		h := decodeHeader(hb[:])
		s.stats.framesIn.Add(1)
		err := h.validate(s.version)
		if err == nil {
			err = s.handleFrame(h)
		}
		switch {
		case err == nil:
			continue
		case err == errStopReading:
		case isPeerFault(err):
			s.fail(err)
		default:
			s.readFailed(err)
		}
		return
	}
}

func isPeerFault(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

func (s *Session) handleFrame(h frameHeader) error {
	switch h.typ {
	case framePing:
		return s.handlePing(h)
	case frameGoAway:
		return s.handleGoAway(h)
	default:
		return s.handleStreamFrame(h)
	}
}

// handleStreamFrame handles Data and WindowUpdate frames. Flags act in
// the order SYN, ACK, credit or data, FIN, RST.
func (s *Session) handleStreamFrame(h frameHeader) error {
	var st *Stream
	var err error
	if h.flags&flagSYN != 0 {
		st, err = s.incomingStream(h.streamID)
	} else {
		st, err = s.lookupStream(h.streamID)
	}
	if err != nil {
		return err
	}
	if h.flags == 0 && h.length == 0 {
		if err := s.emptyFrame(); err != nil {
			return err
		}
	}
	if st == nil { // refused or already forgotten: drop it
		limit := s.cfg.MaxStreamWindow
		if h.flags&flagSYN != 0 {
			limit = initialCredit // a refused stream never had more
		}
		return s.discardPayload(h, limit)
	}
	if h.flags&flagACK != 0 || (s.d.anyFrameAcks && !st.is(lifeAcked)) {
		st.recvAck()
	}
	rst := h.flags&flagRST != 0
	switch {
	case h.typ == frameData: // RST on Data happens in yamux mode only
		if err := s.receiveData(st, h.length); err != nil {
			return err
		}
	case !rst: // a WindowUpdate's Length is credit, or with RST the code
		if err := s.addCredit(st, h.length); err != nil {
			return err
		}
	}
	if h.flags&flagFIN != 0 {
		st.recvFin()
	}
	if rst {
		code := CodeNoError
		if s.d.rstCode {
			code = ErrorCode(h.length)
		}
		wasted := !st.is(lifeAccepted)
		st.abort(code, true)
		if wasted {
			return s.wastedStream()
		}
	}
	return nil
}

// incomingStream handles a SYN. It returns nil (and no error) when the
// stream is refused, after queueing RST(Refused).
func (s *Session) incomingStream(id uint32) (*Stream, error) {
	if (id%2 == 1) == s.client {
		return nil, protocolErrorf(CodeProtocol, "SYN for stream %d with the wrong parity", id)
	}
	s.mu.Lock()
	switch {
	case s.streams[id] != nil:
		s.mu.Unlock()
		return nil, protocolErrorf(CodeProtocol, "duplicate SYN for stream %d", id)
	case id <= s.peerMaxID && s.d.orderedSYNs:
		s.mu.Unlock()
		return nil, protocolErrorf(CodeProtocol, "SYN reuses stream %d (highest so far %d)", id, s.peerMaxID)
	}
	s.peerMaxID = max(s.peerMaxID, id)
	if s.goAwaySent || s.isClosing() || len(s.streams) >= s.cfg.MaxStreams || len(s.acceptQ) >= s.cfg.AcceptBacklog {
		s.mu.Unlock()
		s.stats.streamsRefused.Add(1)
		return nil, s.refuse(id)
	}
	st := newStream(s, id, initialCredit)
	st.mark(lifeAcked) // nothing to wait for on this side
	s.streams[id] = st
	s.acceptQ = append(s.acceptQ, st)
	s.mu.Unlock()
	signal(s.acceptWake)
	return st, nil
}

// lookupStream finds the stream for a frame without SYN. It returns nil
// and no error for a stream that existed and is forgotten (the frame was
// in flight), and a protocol error for one that never existed.
func (s *Session) lookupStream(id uint32) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[id]; st != nil {
		return st, nil
	}
	ours := (id%2 == 1) == s.client
	if (ours && (s.nextID == 0 || id < s.nextID)) || (!ours && id <= s.peerMaxID) {
		return nil, nil
	}
	return nil, protocolErrorf(CodeProtocol, "frame for stream %d, which was never opened", id)
}

// discardPayload drops a Data frame's payload, refusing lengths beyond
// any credit the stream can have had.
func (s *Session) discardPayload(h frameHeader, limit uint32) error {
	if h.typ != frameData || h.length == 0 {
		return nil
	}
	if h.length > limit {
		return protocolErrorf(CodeFlowControl, "%d-byte Data frame for closed stream %d", h.length, h.streamID)
	}
	s.stats.bytesIn.Add(uint64(h.length))
	return midFrame(s.fr.discard(int(h.length)))
}

// midFrame reports an EOF inside a frame as a truncation, never as a
// clean end.
func midFrame(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// receiveData moves n payload bytes from the transport into st. The credit
// check happens before anything is read.
func (s *Session) receiveData(st *Stream, n uint32) error {
	st.mu.Lock()
	if st.is(lifeFinRecv) && n > 0 {
		st.mu.Unlock()
		return protocolErrorf(CodeProtocol, "data after FIN on stream %d", st.id)
	}
	if !st.rw.receive(n) {
		credit := st.rw.credit()
		st.mu.Unlock()
		return protocolErrorf(CodeFlowControl, "%d bytes on stream %d with %d credit", n, st.id, credit)
	}
	answer := st.is(lifeClosed) && !st.is(lifeReset) // data after Close: reset the peer
	st.mu.Unlock()
	s.stats.bytesIn.Add(uint64(n))
	if answer {
		st.resetAfterFin(CodeCancel)
	}
	// A Read woken by a small frame (a request, say) is likely to answer
	// with a small Write: Session.woken counts it (see Stream.Write).
	small := n < smallWrite
	// Large pieces stay where the transport read put them (the stream
	// shares the chunk); small ones are copied into the stream's blocks.
	fr := s.fr
	for n > 0 {
		if err := fr.fill(int(n)); err != nil {
			return midFrame(err)
		}
		b := fr.buffered()
		b = b[:min(int(n), len(b))]
		st.mu.Lock()
		if !st.is(lifeReadClosed | lifeReset) {
			if fr.canShare(len(b)) {
				st.buf.share(fr.c, fr.r, len(b))
			} else {
				st.buf.write(b)
			}
			st.wakeReaderLocked()
			if small && st.parked && !st.woken {
				st.woken = true
				s.woken.Add(1)
			}
		}
		st.mu.Unlock()
		fr.consume(len(b))
		n -= uint32(len(b))
	}
	return nil
}

// addCredit applies a window update to st's send credit.
func (s *Session) addCredit(st *Stream, delta uint32) error {
	s.sendMu.Lock()
	credit, ok := addCredit(st.credit, delta)
	if !ok {
		s.sendMu.Unlock()
		return protocolErrorf(CodeFlowControl, "window update overflows credit on stream %d", st.id)
	}
	st.credit = credit
	wake := false
	if !st.inReady && st.canSendLocked() {
		if st.blockedAt != 0 {
			s.stats.creditStall.Add(monoNow() - st.blockedAt)
			st.blockedAt = 0
		}
		s.sender.ready.push(st)
		wake = true
	}
	s.sendMu.Unlock()
	if wake {
		s.wakeWriter()
	}
	return nil
}

// handlePing answers a ping ahead of queued data, or completes one of ours.
func (s *Session) handlePing(h frameHeader) error {
	if h.flags == flagSYN {
		return s.queueCtrl(frameHeader{typ: framePing, flags: flagACK, length: h.length})
	}
	s.pinger.pong(s, h.length)
	return nil
}

// handleGoAway handles the peer's GoAway: without FIN, it refuses new
// streams; with FIN (its last frame), the session closes.
func (s *Session) handleGoAway(h frameHeader) error {
	ga := &GoAwayError{Code: ErrorCode(h.length), Remote: true}
	s.mu.Lock()
	if s.remoteGoAway == nil {
		s.remoteGoAway = ga
	}
	s.mu.Unlock()
	if s.d.errorGoAwayEnds && ga.Code != CodeNoError {
		s.terminate(ga)
		return errStopReading
	}
	if h.flags&flagFIN == 0 {
		return nil
	}
	s.remoteFin.Store(true)
	s.startClose(ga)
	s.finDone()
	return errStopReading
}
