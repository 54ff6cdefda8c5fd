package core

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Wire constants. See docs/protocol.md, which is the normative description.
const (
	frameHeaderLen = 12

	// protoVersion is the netmux wire version; yamuxVersion is the
	// hashicorp/yamux wire version spoken when Config.ProtocolVersion is 0.
	protoVersion = 1
	yamuxVersion = 0

	// initialCredit is the credit every stream direction starts with, fixed
	// by the protocol so the opener can send before the peer's ACK arrives.
	initialCredit = 256 << 10

	// openWindow is how many streams an opener may have that the peer
	// has not acknowledged (ACK, or any frame from a yamux peer) and not
	// forgotten: every acceptor queues at least this many unaccepted
	// streams (Config.AcceptBacklog), so a peer that keeps to it is never
	// refused for a full backlog. hashicorp/yamux's default backlog is
	// the same. See docs/protocol.md, "Stream admission".
	openWindow = 256

	// maxCredit is the largest credit a sender may ever hold on a stream.
	maxCredit = 1<<32 - 1
)

// frameType is the Type byte of a frame header.
type frameType uint8

const (
	frameData         frameType = 0x0
	frameWindowUpdate frameType = 0x1
	framePing         frameType = 0x2
	frameGoAway       frameType = 0x3
)

var frameTypeNames = [...]string{
	frameData:         "Data",
	frameWindowUpdate: "WindowUpdate",
	framePing:         "Ping",
	frameGoAway:       "GoAway",
}

func (t frameType) String() string {
	if int(t) < len(frameTypeNames) {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("UnknownType(%d)", uint8(t))
}

// frameFlags is the Flags field of a frame header.
type frameFlags uint16

const (
	flagSYN frameFlags = 0x1
	flagACK frameFlags = 0x2
	flagFIN frameFlags = 0x4
	flagRST frameFlags = 0x8

	flagsKnown = flagSYN | flagACK | flagFIN | flagRST
)

// has reports whether every bit of v is set in f.
func (f frameFlags) has(v frameFlags) bool { return f&v == v }

func (f frameFlags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, fl := range []struct {
		v    frameFlags
		name string
	}{{flagSYN, "SYN"}, {flagACK, "ACK"}, {flagFIN, "FIN"}, {flagRST, "RST"}} {
		if f&fl.v != 0 {
			parts = append(parts, fl.name)
		}
	}
	if rest := f &^ flagsKnown; rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint16(rest)))
	}
	return strings.Join(parts, "|")
}

// frameHeader is a decoded 12-byte frame header. For Data frames length is
// the payload size; for WindowUpdate the credit delta (or, with RST, the
// error code); for Ping the opaque value; for GoAway the error code.
type frameHeader struct {
	version  uint8
	typ      frameType
	flags    frameFlags
	streamID uint32
	length   uint32
}

// encode writes h into b, which must be at least frameHeaderLen long.
func (h frameHeader) encode(b []byte) {
	_ = b[frameHeaderLen-1]
	b[0] = h.version
	b[1] = uint8(h.typ)
	binary.BigEndian.PutUint16(b[2:4], uint16(h.flags))
	binary.BigEndian.PutUint32(b[4:8], h.streamID)
	binary.BigEndian.PutUint32(b[8:12], h.length)
}

// appendTo appends the encoded header to b.
func (h frameHeader) appendTo(b []byte) []byte {
	var hb [frameHeaderLen]byte
	h.encode(hb[:])
	return append(b, hb[:]...)
}

// decodeHeader decodes the first frameHeaderLen bytes of b. It does no
// validation; see [frameHeader.validate].
func decodeHeader(b []byte) frameHeader {
	_ = b[frameHeaderLen-1]
	return frameHeader{
		version:  b[0],
		typ:      frameType(b[1]),
		flags:    frameFlags(binary.BigEndian.Uint16(b[2:4])),
		streamID: binary.BigEndian.Uint32(b[4:8]),
		length:   binary.BigEndian.Uint32(b[8:12]),
	}
}

func (h frameHeader) String() string {
	return fmt.Sprintf("%s v%d stream=%d flags=%s len=%d", h.typ, h.version, h.streamID, h.flags, h.length)
}

// validate applies the checks that need no session state: version, type,
// flags and the stream-0 rules. The returned error is a *ProtocolError.
func (h frameHeader) validate(version uint8) error {
	if h.version != version {
		return protocolErrorf(CodeProtocol, "unsupported version %d", h.version)
	}
	if h.flags&^flagsKnown != 0 {
		return protocolErrorf(CodeProtocol, "reserved flag bits set in %s", h)
	}
	switch h.typ {
	case frameData, frameWindowUpdate:
		if h.streamID == 0 {
			return protocolErrorf(CodeProtocol, "%s on stream 0", h.typ)
		}
		if h.flags.has(flagSYN | flagACK) {
			return protocolErrorf(CodeProtocol, "SYN and ACK together on stream %d", h.streamID)
		}
		if h.typ == frameData && h.flags&flagRST != 0 && version != yamuxVersion {
			return protocolErrorf(CodeProtocol, "RST on a Data frame (stream %d)", h.streamID)
		}
	case framePing:
		if h.streamID != 0 {
			return protocolErrorf(CodeProtocol, "Ping on stream %d", h.streamID)
		}
		if h.flags != flagSYN && h.flags != flagACK {
			return protocolErrorf(CodeProtocol, "Ping with flags %s", h.flags)
		}
	case frameGoAway:
		if h.streamID != 0 {
			return protocolErrorf(CodeProtocol, "GoAway on stream %d", h.streamID)
		}
		if h.flags != 0 && (h.flags != flagFIN || version == yamuxVersion) {
			return protocolErrorf(CodeProtocol, "GoAway with flags %s", h.flags)
		}
	default:
		return protocolErrorf(CodeProtocol, "unknown frame type %d", uint8(h.typ))
	}
	return nil
}
