package core

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"
)

// The writer goroutine owns conn.Write. Everyone else enqueues under
// sendMu and wakes it: control frames go to a bounded FIFO that is always
// written first; streams with data (or a FIN) to send wait in a ring that
// is served round-robin, at most one frame per stream per turn. Each turn
// builds one batch, written with a single Write call.

// minChunk is the smallest Data frame sent while more data waits: a peer
// that returns credit a byte at a time must not turn a large write into
// a flood of tiny frames, so the writer waits for this much credit.
const minChunk = 4 << 10

// maxBatch bounds the bytes handed to the transport in one Write, which
// also bounds how long a control frame can wait behind data.
const maxBatch = 128 << 10

// batchLimit is where a batch of data ends: maxBatch, rounded down to a
// whole number of TCP segments where the carrier's MSS is known. A write
// just past a segment boundary costs the kernel a segment of a few bytes,
// processed like a full one (on loopback, with a 64 KiB MSS, the whole
// receive path and an ACK): 64 streams of bulk data lost a quarter of
// their rate to batches of 128 KiB plus a frame.
func (s *Session) batchLimit() int {
	mss := int(s.sndMSS.Load())
	if mss == 0 || mss > maxBatch {
		return maxBatch
	}
	return maxBatch / mss * mss
}

// ctrlFrame is a queued control frame. With kind ctrlCredit it is a
// window update whose credit is collected from st when the frame is
// written, so updates for one stream coalesce; with ctrlSYN it opens st.
type ctrlFrame struct {
	hdr  frameHeader
	st   *Stream
	kind uint8
}

const (
	ctrlPlain  = iota
	ctrlCredit // a window update for st
	ctrlSYN    // st's SYN: withdrawn if st is reset before it is written
)

// smallWrite is the Write size under which a Write shares the next
// transport write with other streams' frames when it can (Stream.Write).
const smallWrite = 16 << 10

// maxInlineBatches bounds how many batches an application goroutine
// writes itself before it leaves the rest to the writer goroutine.
const maxInlineBatches = 16

// sender is the write side of a session. Its fields are guarded by
// sendMu, except wbuf, sent, timer, iov, lent and spillBuf, which belong
// to whoever set busy.
//
// Whoever finds the transport idle writes: the writer goroutine, or, over
// direct socket I/O, a Write that queued work while the writer goroutine
// slept. Writing in the caller saves two goroutine hand-offs per frame on
// a quiet session, and under load the transport is busy, so frames queue
// and leave in shared batches as before. A Write never waits on the
// carrier, though: it writes what the socket takes at once and leaves the
// rest to the writer goroutine (flushInline), so its deadline holds
// whatever the carrier does. Over a carrier the session cannot write
// without waiting (any other than a TCP socket it reaches directly), only
// the writer goroutine writes. The reader goroutine, and Read, never
// write.
type sender struct {
	s      *Session
	sendMu sync.Mutex
	ctrl   []ctrlFrame
	ready  streamRing
	wake   chan struct{} // capacity 1
	room   chan struct{} // capacity 1: the control queue was drained

	closing  bool  // flush, then send the final GoAway
	abort    error // fatal error: send only the final GoAway with its code
	finished bool  // the final GoAway is queued or the session is dead; drop everything else
	busy     bool  // a goroutine is building or writing a batch
	yield    bool  // a small Write left its frame to be shared (Stream.Write)

	wbuf  *[]byte     // the batch buffer, from bufPools while a batch is built and written (bufpool.go)
	sent  []*Stream   // streams whose FIN the current batch carries
	timer *time.Timer // write timeout

	// A batch the socket took only part of, when the writer may not wait
	// for the rest (flushInline), or while the socket is full and Writes
	// must not wait for their lent buffers (unlend): the rest is copied
	// into spillBuf (pooled, as wbuf). carry (guarded by sendMu) is such
	// a rest that the writer goroutine must write before anything else.
	spillBuf *[]byte
	spillIOV [1][]byte
	carry    []byte

	// Over a TCP carrier on Linux, large payload is not copied into wbuf:
	// the batch is iov, pieces of wbuf (headers, small frames) between
	// slices of the Writes' own buffers, written with writev. A stream
	// whose buffer the batch holds is in lent, its Write kept waiting
	// until the transport write returns (see doneWritingLocked).
	iov  [][]byte
	lent []*Stream
}

func (w *sender) init(s *Session) {
	w.s = s
	w.wake = make(chan struct{}, 1)
	w.room = make(chan struct{}, 1)
	if s.sock != nil {
		s.sock.setOnFull(s.unlend)
	}
	if s.cfg.WriteTimeout > 0 {
		w.timer = time.AfterFunc(time.Hour, func() { s.terminate(ErrWriteTimeout) })
		w.timer.Stop()
	}
}

func (w *sender) stopTimer() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *sender) wakeWriter() { signal(w.wake) }

// Control frames come in two kinds. Those the peer provokes (ping
// replies, the RSTs refusing its streams) are bounded by MaxControlFrames:
// when the queue is full the reader waits for the writer to drain it, and
// so stops reading what provokes more (queueCtrl). Those this side
// originates are bounded by its own streams and calls (a SYN, ACK, window
// update and RST per stream at most, a GoAway per session, the keepalive's
// and auto-tuning's pings one at a time): they are queued at once, never
// waiting, so that no application call, timer or lock holder waits on the
// carrier (queueLocal). An application's Ping waits for room like the
// reader, until its context ends.

// queueCtrl queues a control frame the peer provoked. When the queue is
// full the caller (the reader) waits for the writer to drain it: a burst
// from a peer that reads what it provokes passes. If the writer cannot
// drain it within the write timeout, the peer is not reading: the session
// fails with ENHANCE_YOUR_CALM and so does the call. Frames queued after
// the final GoAway are dropped.
func (s *Session) queueCtrl(h frameHeader) error {
	err := s.enqueueCtrl(h, nil)
	s.failFlood(err)
	s.wakeWriter()
	return err
}

// failFlood ends the session when enqueueCtrl found the control queue
// full for too long. Call it without locks.
func (s *Session) failFlood(err error) {
	if err == errControlFlood {
		s.fail(err)
	}
}

// enqueueCtrl is queueCtrl without waking the writer, and it also gives
// up when cancel is closed (returning errCanceled).
func (s *Session) enqueueCtrl(h frameHeader, cancel <-chan struct{}) error {
	h.version = s.version
	s.sendMu.Lock()
	var deadline *time.Timer
	for len(s.sender.ctrl) >= s.cfg.MaxControlFrames && !s.sender.finished {
		s.sendMu.Unlock()
		if deadline == nil {
			deadline = time.NewTimer(s.ctrlFullTimeout())
			defer deadline.Stop()
		}
		s.wakeWriter()
		select {
		case <-s.sender.room:
		case <-s.dead:
			return s.err
		case <-deadline.C:
			return errControlFlood
		case <-cancel:
			return errCanceled
		}
		s.sendMu.Lock()
	}
	if !s.sender.finished {
		s.sender.ctrl = append(s.sender.ctrl, ctrlFrame{hdr: h})
	}
	s.sendMu.Unlock()
	return nil
}

var errCanceled = errors.New("netmux: canceled")

// queueLocal queues a control frame this side originates and wakes the
// writer. It never waits (see above); after the final GoAway the frame is
// dropped. With st set it is a window update carrying st's pending credit.
func (s *Session) queueLocal(h frameHeader, st *Stream) {
	s.sendMu.Lock()
	kind := uint8(ctrlPlain)
	if st != nil {
		kind = ctrlCredit
	}
	s.appendCtrlLocked(h, st, kind)
	s.sendMu.Unlock()
	s.wakeWriter()
}

// queueSYN queues st's SYN, advertising our receive window beyond the
// protocol's initial credit. OpenStream calls it with s.mu held, so SYNs
// are queued in ID order; the caller wakes the writer.
func (s *Session) queueSYN(st *Stream) {
	s.sendMu.Lock()
	if s.appendCtrlLocked(frameHeader{typ: frameWindowUpdate, flags: flagSYN, streamID: st.id,
		length: s.cfg.InitialStreamWindow - initialCredit}, st, ctrlSYN) {
		st.synQueued = true
	}
	s.sendMu.Unlock()
}

// appendCtrlLocked adds a frame to the control queue unless the final
// GoAway is queued, reporting whether it did. Call with sendMu held.
func (s *Session) appendCtrlLocked(h frameHeader, st *Stream, kind uint8) bool {
	if s.sender.finished {
		return false
	}
	h.version = s.version
	s.sender.ctrl = append(s.sender.ctrl, ctrlFrame{hdr: h, st: st, kind: kind})
	return true
}

// withdrawSYNLocked takes st's SYN back out of the control queue if it
// has not been written, reporting whether it did: the peer then never
// hears of the stream, and needs no RST. Call with sendMu held.
func (s *Session) withdrawSYNLocked(st *Stream) bool {
	if !st.synQueued {
		return false
	}
	st.synQueued = false
	w := &s.sender
	for i := range w.ctrl {
		if w.ctrl[i].kind == ctrlSYN && w.ctrl[i].st == st {
			w.ctrl = slices.Delete(w.ctrl, i, i+1)
			return true
		}
	}
	return false
}

// ctrlFullTimeout is how long a full control queue may stay full.
func (s *Session) ctrlFullTimeout() time.Duration {
	if s.cfg.WriteTimeout > 0 {
		return s.cfg.WriteTimeout
	}
	return s.cfg.CloseTimeout
}

var errControlFlood = protocolErrorf(CodeEnhanceYourCalm, "control frame queue full: peer is not reading")

// writeLoop is the writer goroutine.
func (s *Session) writeLoop() {
	defer s.wg.Done()
	w := &s.sender
	yielded := false
	for {
		s.sendMu.Lock()
		if w.busy { // a caller is writing; it wakes us if it leaves work
			s.sendMu.Unlock()
			select {
			case <-w.wake:
				continue
			case <-s.dead:
				return
			}
		}
		var batch []byte
		var last bool
		var abort error
		if w.carry != nil {
			// The rest of a batch a Write began: it goes before anything.
			batch, w.carry = w.carry, nil
		} else {
			if w.yield && !yielded {
				// A small Write left its frame to be shared
				// (Stream.Write): let the goroutines the reader woke
				// queue theirs, once, then write what is queued
				// (yielding up to four times while some were still to
				// run did not do better).
				w.yield, yielded = false, true
				s.sendMu.Unlock()
				if s.woken.Load() > 0 {
					runtime.Gosched()
				}
				continue
			}
			w.yield, yielded = false, false
			batch, last = s.buildBatchLocked()
			abort = w.abort
		}
		w.busy = len(batch) > 0
		s.sendMu.Unlock()

		if len(batch) == 0 {
			select {
			case <-w.wake:
				continue
			case <-s.dead:
				return
			}
		}
		s.finishSent()
		err := s.writeBatch(batch)
		s.sendMu.Lock()
		w.doneWritingLocked()
		s.sendMu.Unlock()
		if err != nil {
			s.terminate(err)
			return
		}
		if last {
			s.localFin.Store(true)
			if !s.d.finalGoAwayFIN || abort != nil { // no answer to wait for
				s.terminate(abort)
			}
			s.finDone()
			<-s.dead
			return
		}
	}
}

// flushInline writes queued frames from the calling Write's goroutine
// while nobody else is writing, until st's pending Write is taken (with st
// nil, one batch), and leaves what remains to the writer goroutine. It
// never waits on the carrier: what the socket does not take at once is
// copied aside (sender.carry) for the writer goroutine. It reports whether
// it took over the writer's job; if not, the caller wakes the writer
// goroutine. Only over direct socket I/O, the one carrier it can write to
// without waiting; it never writes the final GoAway.
func (s *Session) flushInline(st *Stream) bool {
	if s.sock == nil {
		return false
	}
	w := &s.sender
	for i := 0; i < maxInlineBatches; i++ {
		s.sendMu.Lock()
		if w.busy || w.carry != nil || w.closing || w.abort != nil || w.finished {
			s.sendMu.Unlock()
			return i > 0
		}
		batch, _ := s.buildBatchLocked()
		if len(batch) == 0 {
			s.sendMu.Unlock()
			return true
		}
		w.busy = true
		s.sendMu.Unlock()
		s.finishSent()
		rest, err := s.tryWriteBatch(batch)
		s.sendMu.Lock()
		w.carry = rest
		w.doneWritingLocked()
		more := len(w.ctrl) > 0 || w.ready.head != nil || w.closing || w.abort != nil
		mine := st == nil || st.pend == nil || !st.inReady
		s.sendMu.Unlock()
		switch {
		case err != nil:
			s.terminate(err)
			return true
		case rest != nil:
			s.wakeWriter() // the socket is full: the rest is the writer goroutine's
			return true
		case !more:
			return true
		case mine:
			s.wakeWriter() // the rest is the writer goroutine's
			return true
		}
	}
	s.wakeWriter()
	return true
}

// tryWriteBatch writes what of a batch the socket takes now. The rest, if
// any, is returned as a copy (in spillBuf), so that no Write's buffer is
// held once it returns.
func (s *Session) tryWriteBatch(b []byte) (rest []byte, err error) {
	s.stats.transportWrites.Add(1)
	w := &s.sender
	if len(w.iov) > 0 {
		var left [][]byte
		left, err = s.sock.tryWritev(w.iov)
		if err == nil && len(left) > 0 {
			rest = w.spill(left)
		}
		clear(w.iov) // let go of the Writes' buffers
		w.iov = w.iov[:0]
		return rest, err
	}
	left, err := s.sock.tryWrite(b)
	if err == nil && len(left) > 0 {
		w.spillIOV[0] = left
		rest = w.spill(w.spillIOV[:])
		w.spillIOV[0] = nil
	}
	return rest, err
}

// spill copies pieces, in order, into spillBuf and returns the copy.
func (w *sender) spill(pieces [][]byte) []byte {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	if w.spillBuf != nil && cap(*w.spillBuf) < n {
		putBuf(w.spillBuf)
		w.spillBuf = nil
	}
	if w.spillBuf == nil {
		w.spillBuf = getBuf(n)
	}
	buf := (*w.spillBuf)[:0]
	for _, p := range pieces {
		buf = append(buf, p...)
	}
	return buf
}

// unlend is called by a waiting writev when the socket is full (see
// sockIO.onFull): while the batch holds parts of Writes' own buffers, what
// is left of it is copied aside and the loans end, so that no Write waits
// past its deadline for a carrier that does not take bytes. Loans thus
// last only as long as the system calls that are taking their bytes.
func (s *Session) unlend(rest [][]byte) [][]byte {
	w := &s.sender
	if len(w.lent) == 0 {
		return rest
	}
	w.spillIOV[0] = w.spill(rest)
	s.sendMu.Lock()
	w.endLoansLocked()
	s.sendMu.Unlock()
	return w.spillIOV[:]
}

// finishSent marks the send half of each stream whose FIN the last batch
// carried done. The batch's builder calls it without the lock.
func (s *Session) finishSent() {
	w := &s.sender
	for i, st := range w.sent {
		st.sendDone()
		w.sent[i] = nil
	}
	w.sent = w.sent[:0]
}

// writeBatch hands one batch to the transport under the write timeout.
// When the batch lends payload, sender.iov is the whole batch (b's bytes
// among the loans) and b itself is not written.
func (s *Session) writeBatch(b []byte) error {
	s.stats.transportWrites.Add(1)
	if t := s.sender.timer; t != nil {
		t.Reset(s.cfg.WriteTimeout)
	}
	var err error
	switch {
	case len(s.sender.iov) > 0:
		err = s.sock.writev(s.sender.iov)
		clear(s.sender.iov) // let go of the Writes' buffers
		s.sender.iov = s.sender.iov[:0]
	case s.sock != nil:
		err = s.sock.write(b)
	default:
		_, err = s.conn.Write(b)
	}
	if t := s.sender.timer; t != nil {
		t.Stop()
	}
	return err
}

// buildBatchLocked fills the write buffer: control frames first, then data
// round-robin across ready streams, then, when closing and nothing else is
// left, the final GoAway (last reports that). Streams whose send half
// finished are appended to w.sent, to be processed without the lock.
func (s *Session) buildBatchLocked() (batch []byte, last bool) {
	w := &s.sender
	var buf []byte
	if w.wbuf != nil {
		buf = (*w.wbuf)[:0]
	}
	if w.finished {
		return buf, false
	}
	if w.abort != nil {
		w.ctrl = w.ctrl[:0]
		w.finished = true
		return s.finalGoAway(w.reserve(buf, frameHeaderLen), goAwayCodeFor(w.abort)), true
	}
	frames := uint64(0)
	for i := range w.ctrl {
		c := &w.ctrl[i]
		h := c.hdr
		switch c.kind {
		case ctrlCredit:
			c.st.wuQueued.Store(false)
			h.length = c.st.pendingCredit.Swap(0)
		case ctrlSYN:
			c.st.synQueued = false
		}
		c.st = nil
		if c.kind == ctrlCredit && h.length == 0 {
			continue
		}
		buf = h.appendTo(w.reserve(buf, frameHeaderLen))
		frames++
	}
	if len(w.ctrl) > 0 {
		w.ctrl = w.ctrl[:0]
		signal(w.room)
	}

	var payload uint64
	maxFrame := int(s.cfg.MaxFrameSize)
	limit := s.batchLimit()
	lentBytes, mark := 0, 0 // payload in iov, not buf; buf[mark:] is not in iov yet
	for w.ready.head != nil {
		st := w.ready.head
		if st.canSendLocked() {
			k := min(len(st.pend), maxFrame)
			if uint64(k) > st.credit {
				k = int(st.credit)
			}
			if room := limit - len(buf) - lentBytes - frameHeaderLen; k > room {
				// The batch ends at limit: cut the frame to fit, unless
				// that leaves a piece under minChunk. Then the frame
				// waits for the next batch, unless the batch has no data
				// yet.
				if room >= minChunk {
					k = room
				} else if payload > 0 {
					break
				}
			}
			// Leave no credit the stream cannot use: under minChunk
			// with more data waiting, it would stall until the peer
			// returns more.
			if left := st.credit - uint64(k); left > 0 && left < minChunk && uint64(len(st.pend)-k) > left && k > minChunk {
				k -= minChunk - int(left)
			}
			lend := s.canLend(st, k)
			if lend {
				buf = w.reserve(buf, frameHeaderLen)
			} else {
				buf = w.reserve(buf, frameHeaderLen+k)
			}
			buf = frameHeader{version: s.version, typ: frameData, streamID: st.id, length: uint32(k)}.appendTo(buf)
			if lend {
				w.iov = append(w.iov, buf[mark:], st.pend[:k])
				mark = len(buf)
				lentBytes += k
				if !st.lent {
					st.lent = true
					w.lent = append(w.lent, st)
				}
			} else {
				n := len(buf)
				buf = buf[:n+k]
				copyBytes(buf[n:], st.pend[:k])
			}
			st.pend = st.pend[k:]
			st.written += k
			st.credit -= uint64(k)
			payload += uint64(k)
			frames++
			if len(st.pend) == 0 {
				st.pend = nil
				if !st.lent {
					st.notifyWriter()
				}
			}
		}
		switch {
		case st.canSendLocked():
			w.ready.rotate()
			continue
		case len(st.pend) > 0:
			// Out of credit: wait for a window update to re-add it.
			st.blockedAt = monoNow()
			w.ready.remove(st)
			continue
		}
		// Nothing left to write: the FIN, then a queued RST, go last.
		w.ready.remove(st)
		if st.is(lifeFinQueued) && !st.is(lifeFinSent) {
			st.mark(lifeFinSent)
			buf = w.reserve(buf, 2*frameHeaderLen)
			buf = frameHeader{version: s.version, typ: frameWindowUpdate, flags: flagFIN, streamID: st.id}.appendTo(buf)
			frames++
			if st.is(lifeRstQueued) {
				buf = frameHeader{version: s.version, typ: frameWindowUpdate, flags: flagRST, streamID: st.id,
					length: s.rstLength(st.rstCode)}.appendTo(buf)
				frames++
			}
			w.sent = append(w.sent, st)
		}
	}
	s.stats.framesOut.Add(frames)
	s.stats.bytesOut.Add(payload)

	if w.closing && len(w.ctrl) == 0 && w.ready.head == nil {
		w.finished = true
		buf = s.finalGoAway(w.reserve(buf, frameHeaderLen), CodeNoError)
		last = true
	}
	if len(w.iov) > 0 && mark < len(buf) {
		w.iov = append(w.iov, buf[mark:])
	}
	if w.wbuf != nil {
		*w.wbuf = buf[:0] // keep any growth
	}
	return buf, last
}

// minLend is the smallest payload piece sent from the Write's own buffer
// rather than copied into the batch.
const minLend = minChunk

// canLend reports whether k bytes of st's pending Write may go out from
// the Write's own buffer. A loan lasts no longer than the system calls
// taking its bytes (unlend), so a Write's deadline holds all the same.
func (s *Session) canLend(st *Stream, k int) bool {
	return lendPayload && s.sock != nil && k >= minLend
}

// doneWritingLocked hands the transport back after a batch is written
// (or failed): busy is cleared and the batch's loans end, so their Writes
// may return. Call with sendMu held.
func (w *sender) doneWritingLocked() {
	w.releaseBuffersLocked()
	w.busy = false
	w.endLoansLocked()
	w.spillIOV[0] = nil
}

// endLoansLocked ends the loans of the batch being written: its Writes
// may return. Call with sendMu held.
func (w *sender) endLoansLocked() {
	for i, st := range w.lent {
		st.lent = false
		st.notifyWriter()
		w.lent[i] = nil
	}
	w.lent = w.lent[:0]
}

// finalGoAway appends the session's last frame: GoAway|FIN in netmux,
// a plain GoAway in yamux mode.
func (s *Session) finalGoAway(buf []byte, code ErrorCode) []byte {
	var flags frameFlags
	if s.d.finalGoAwayFIN {
		flags = flagFIN
	}
	s.stats.framesOut.Add(1)
	return frameHeader{version: s.version, typ: frameGoAway, flags: flags,
		length: uint32(s.d.goAwayCode(code))}.appendTo(buf)
}

// rstLength is the Length of an RST frame carrying code.
func (s *Session) rstLength(code ErrorCode) uint32 { return s.d.rstLength(code) }

// streamRing is an intrusive circular list of streams with something to
// send. Guarded by sendMu.
type streamRing struct{ head *Stream }

func (r *streamRing) push(st *Stream) {
	if st.inReady {
		return
	}
	st.inReady = true
	if r.head == nil {
		st.next, st.prev = st, st
		r.head = st
		return
	}
	tail := r.head.prev
	st.prev, st.next = tail, r.head
	tail.next = st
	r.head.prev = st
}

func (r *streamRing) remove(st *Stream) {
	if !st.inReady {
		return
	}
	st.inReady = false
	if st.next == st {
		r.head = nil
	} else {
		st.prev.next = st.next
		st.next.prev = st.prev
		if r.head == st {
			r.head = st.next
		}
	}
	st.next, st.prev = nil, nil
}

// pushFront adds st at the head of the ring, to be served next; a
// stream already in the ring keeps its place.
func (r *streamRing) pushFront(st *Stream) {
	if !st.inReady {
		r.push(st)
		r.head = st
	}
}

// rotate moves the head to the back of the ring.
func (r *streamRing) rotate() {
	if r.head != nil {
		r.head = r.head.next
	}
}

// sendAck accepts st on the wire, advertising our extra receive window.
func (s *Session) sendAck(st *Stream) {
	s.queueLocal(frameHeader{typ: frameWindowUpdate, flags: flagACK, streamID: st.id,
		length: s.cfg.InitialStreamWindow - initialCredit}, nil)
}

// queueRST resets stream id on the wire, ahead of queued data. A stream
// resets once, so this is a frame this side originates (queueLocal).
func (s *Session) queueRST(id uint32, code ErrorCode) {
	s.queueLocal(s.rstFrame(id, code), nil)
}

// refuse resets a stream the peer opened and we cannot take: a frame the
// peer provokes (queueCtrl).
func (s *Session) refuse(id uint32) error {
	return s.queueCtrl(s.rstFrame(id, CodeRefused))
}

func (s *Session) rstFrame(id uint32, code ErrorCode) frameHeader {
	return frameHeader{typ: frameWindowUpdate, flags: flagRST, streamID: id, length: s.rstLength(code)}
}

// sendWindowUpdate returns delta bytes of credit to the peer. Updates for
// one stream coalesce into a single queued frame, which the writer
// goroutine writes: a Read never writes to the transport, so it never
// waits on the carrier after it has taken data.
func (s *Session) sendWindowUpdate(st *Stream, delta uint32) {
	st.pendingCredit.Add(delta)
	if st.wuQueued.CompareAndSwap(false, true) {
		s.queueLocal(frameHeader{typ: frameWindowUpdate, streamID: st.id}, st)
	}
}
