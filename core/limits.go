package core

import "time"

// Flood limits applied by the reader goroutine, which owns them (no lock).

const (
	rapidResetWindow = 10 * time.Second
	emptyFrameWindow = time.Second
)

// eventLimit counts events in fixed windows and reports when a window
// holds more than limit of them.
type eventLimit struct {
	limit  int
	window time.Duration
	start  time.Time
	n      int
}

// hit records one event and reports whether the limit is now exceeded.
func (l *eventLimit) hit() bool {
	now := time.Now()
	if now.Sub(l.start) > l.window {
		l.start, l.n = now, 0
	}
	l.n++
	return l.n > l.limit
}

var (
	errRapidReset = protocolErrorf(CodeEnhanceYourCalm, "too many streams reset before they were accepted")
	errEmptyFlood = protocolErrorf(CodeEnhanceYourCalm, "too many frames that carry nothing")
)

// wastedStream counts a stream the peer opened and reset before the
// application accepted it. (Refused streams are not counted: refusing is
// cheap, bounded by the control queue, and a busy server must be able to
// refuse many streams without ending the session.)
func (s *Session) wastedStream() error {
	if s.resets.hit() {
		return errRapidReset
	}
	return nil
}

// emptyFrame counts a frame that carries nothing: no payload, no credit,
// no flags.
func (s *Session) emptyFrame() error {
	if s.empties.hit() {
		return errEmptyFlood
	}
	return nil
}
