package core

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a session's counters.
type Stats struct {
	BytesSent      uint64 // Data payload bytes written
	BytesReceived  uint64 // Data payload bytes read from the transport
	FramesSent     uint64
	FramesReceived uint64

	StreamsOpened   uint64 // by this side
	StreamsAccepted uint64 // opened by the peer and accepted
	StreamsRefused  uint64 // opened by the peer and refused
	StreamsReset    uint64 // reset by either side
	StreamsActive   int    // held now (NumStreams)

	RTT         time.Duration // smoothed round-trip time; 0 until measured
	CreditStall time.Duration // total time writers waited for credit

	ControlQueue int // control frames waiting to be written
	AcceptQueue  int // streams waiting for AcceptStream
}

type counters struct {
	bytesIn, bytesOut, framesIn, framesOut                       atomic.Uint64
	streamsOpened, streamsAccepted, streamsRefused, streamsReset atomic.Uint64
	creditStall                                                  atomic.Int64
	transportWrites                                              atomic.Uint64 // write system calls or conn.Writes begun (tests)
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{
		BytesSent:       s.stats.bytesOut.Load(),
		BytesReceived:   s.stats.bytesIn.Load(),
		FramesSent:      s.stats.framesOut.Load(),
		FramesReceived:  s.stats.framesIn.Load(),
		StreamsOpened:   s.stats.streamsOpened.Load(),
		StreamsAccepted: s.stats.streamsAccepted.Load(),
		StreamsRefused:  s.stats.streamsRefused.Load(),
		StreamsReset:    s.stats.streamsReset.Load(),
		RTT:             s.smoothedRTT(),
		CreditStall:     time.Duration(s.stats.creditStall.Load()),
	}
	s.mu.Lock()
	st.StreamsActive = len(s.streams)
	st.AcceptQueue = len(s.acceptQ)
	s.mu.Unlock()
	s.sendMu.Lock()
	st.ControlQueue = len(s.sender.ctrl)
	s.sendMu.Unlock()
	return st
}
