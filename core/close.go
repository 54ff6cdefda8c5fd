package core

import (
	"context"
	"fmt"
	"io"
	"time"
)

// The session's close path, in one place. A session ends in one of two
// ways, both ending in terminate:
//
//   - Orderly (Close, Shutdown, the peer's GoAway|FIN, a fault the peer is
//     told of): startClose closes `closing` once (new streams and writes
//     are refused, blocked Writes fail) and arms closeTimer; the writer
//     flushes what Writes handed it and sends the final GoAway
//     (sender.closing, or sender.abort with the fault's code: then only
//     the GoAway); localFin and remoteFin record the two final GoAways,
//     and finDone terminates once both have crossed (version 0 and a
//     fault terminate as soon as ours is written, see dialect.go).
//     closeTimer terminates it anyway after CloseTimeout.
//   - At once (a transport error, the keepalive or write timeout, the
//     close timer): terminate.
//
// terminate (once) marks the writer finished (sender.finished: it takes
// nothing more), records err, forgets every stream, closes `dead`, wakes
// every blocked call, stops every timer and closes the transport. The
// flags: closing and closeCause (orderly close started, and why), dead
// and err (ended, and why), localFin and remoteFin (final GoAways
// written and received), and the sender's closing, abort and finished,
// under sendMu.

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

// readFailed ends the session after a transport read error.
func (s *Session) readFailed(err error) {
	select {
	case <-s.dead: // we closed the transport ourselves
		return
	default:
	}
	switch {
	case s.localFin.Load():
		// We said our last word; the peer hung up instead of answering.
		s.terminate(s.closeCause)
	case s.d.eofEndsSession && err == io.EOF:
		s.terminate(io.EOF)
	case err == io.EOF:
		s.terminate(fmt.Errorf("transport closed without GoAway: %w", io.ErrUnexpectedEOF))
	default:
		s.terminate(err)
	}
}
