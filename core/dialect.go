package core

// dialect is everything the protocol version changes in a session's
// behaviour, chosen once from Config.ProtocolVersion (dialectFor). Version
// 0 speaks hashicorp/yamux; the rest of the core reads these fields and
// never compares versions itself (the frame codec, frame.go, checks the
// wire form). docs/protocol.md section 12 describes the same differences.
type dialect struct {
	// finalGoAwayFIN: the last frame is GoAway|FIN and the peer answers
	// with its own (the close handshake); in yamux a plain GoAway, after
	// which the session ends as soon as it is written.
	finalGoAwayFIN bool
	// rstCode: RST carries an error code in Length; yamux's carries none.
	rstCode bool
	// anyFrameAcks: any frame of a stream we opened acknowledges it, and
	// an acceptor that saw our FIN before it accepted may send no ACK at
	// all (yamux).
	anyFrameAcks bool
	// orderedSYNs: the peer sends SYNs in ID order, so a SYN at or below
	// the highest ID seen is a reused ID. yamux queues SYNs outside its
	// ID lock, so they may arrive out of order.
	orderedSYNs bool
	// eofEndsSession: the peer ends a session by closing the carrier, so
	// an EOF is a clean end (yamux).
	eofEndsSession bool
	// errorGoAwayEnds: a GoAway with an error code ends the session at
	// once (yamux).
	errorGoAwayEnds bool
	// rttPings: the session pings to learn its RTT beyond the preface.
	// Not to a yamux peer: yamux drops the data it has not read yet when
	// one of its writes fails, so every reply it owes is a chance to lose
	// data at close.
	rttPings bool
}

func dialectFor(version uint8) dialect {
	if version == yamuxVersion {
		return dialect{anyFrameAcks: true, eofEndsSession: true, errorGoAwayEnds: true}
	}
	return dialect{finalGoAwayFIN: true, rstCode: true, orderedSYNs: true, rttPings: true}
}

// goAwayCode is the code a final GoAway carries for code: yamux knows
// only 0 (normal), 1 (protocol) and 2 (internal).
func (d dialect) goAwayCode(code ErrorCode) ErrorCode {
	if d.finalGoAwayFIN {
		return code
	}
	switch code {
	case CodeNoError:
		return code
	case CodeProtocol, CodeFlowControl:
		return CodeProtocol
	default:
		return CodeInternal
	}
}

// rstLength is the Length of an RST frame carrying code.
func (d dialect) rstLength(code ErrorCode) uint32 {
	if !d.rstCode {
		return 0
	}
	return uint32(code)
}
