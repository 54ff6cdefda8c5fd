package core

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	cases := []frameHeader{
		{version: 1, typ: frameData, streamID: 1, length: 5},
		{version: 1, typ: frameWindowUpdate, flags: flagSYN, streamID: 3, length: 1 << 20},
		{version: 1, typ: frameWindowUpdate, flags: flagRST, streamID: 2, length: uint32(CodeCancel)},
		{version: 1, typ: framePing, flags: flagACK, length: 0xdeadbeef},
		{version: 0, typ: frameGoAway, length: uint32(CodeProtocol)},
		{version: 1, typ: frameGoAway, flags: flagFIN},
		{version: 1, typ: frameData, flags: flagFIN | flagACK, streamID: 0xffffffff, length: 0xffffffff},
	}
	for _, h := range cases {
		var b [frameHeaderLen]byte
		h.encode(b[:])
		assert.Equal(t, h, decodeHeader(b[:]), "%s", h)
		assert.Equal(t, b[:], h.appendTo(nil))
	}
}

func TestFrameHeaderWireLayout(t *testing.T) {
	h := frameHeader{version: 1, typ: frameWindowUpdate, flags: flagSYN | flagFIN, streamID: 0x01020304, length: 0x0a0b0c0d}
	want := []byte{0x01, 0x01, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d}
	assert.Equal(t, want, h.appendTo(nil), "big-endian Ver|Type|Flags|StreamID|Length")
}

func TestFrameHeaderValidate(t *testing.T) {
	ok := []frameHeader{
		{version: 1, typ: frameData, streamID: 1},
		{version: 1, typ: frameData, flags: flagSYN | flagFIN, streamID: 1, length: 10},
		{version: 1, typ: frameWindowUpdate, flags: flagRST, streamID: 9},
		{version: 1, typ: framePing, flags: flagSYN},
		{version: 1, typ: framePing, flags: flagACK, length: 7},
		{version: 1, typ: frameGoAway},
		{version: 1, typ: frameGoAway, flags: flagFIN, length: 1},
	}
	for _, h := range ok {
		assert.NoError(t, h.validate(1), "%s", h)
	}
	bad := []struct {
		h       frameHeader
		version uint8
	}{
		{frameHeader{version: 2, typ: frameData, streamID: 1}, 1},
		{frameHeader{version: 1, typ: frameData, streamID: 1}, 0},
		{frameHeader{version: 1, typ: 4, streamID: 1}, 1},
		{frameHeader{version: 1, typ: frameData, flags: 0x10, streamID: 1}, 1},
		{frameHeader{version: 1, typ: frameData, streamID: 0}, 1},
		{frameHeader{version: 1, typ: frameWindowUpdate, streamID: 0}, 1},
		{frameHeader{version: 1, typ: frameData, flags: flagSYN | flagACK, streamID: 1}, 1},
		{frameHeader{version: 1, typ: frameData, flags: flagRST, streamID: 1}, 1},
		{frameHeader{version: 1, typ: framePing, flags: flagSYN, streamID: 1}, 1},
		{frameHeader{version: 1, typ: framePing}, 1},
		{frameHeader{version: 1, typ: framePing, flags: flagSYN | flagACK}, 1},
		{frameHeader{version: 1, typ: framePing, flags: flagFIN}, 1},
		{frameHeader{version: 1, typ: frameGoAway, streamID: 3}, 1},
		{frameHeader{version: 1, typ: frameGoAway, flags: flagRST}, 1},
		{frameHeader{version: 0, typ: frameGoAway, flags: flagFIN}, 0},
	}
	for _, c := range bad {
		err := c.h.validate(c.version)
		var pe *ProtocolError
		if assert.True(t, errors.As(err, &pe), "%s must be rejected", c.h) {
			assert.Equal(t, CodeProtocol, pe.Code)
			assert.ErrorIs(t, err, ErrProtocol)
		}
	}
	// yamux allows RST on Data frames.
	assert.NoError(t, frameHeader{version: 0, typ: frameData, flags: flagRST, streamID: 1}.validate(0))
}

func TestFrameStrings(t *testing.T) {
	assert.Equal(t, "SYN|FIN|0x20", (flagSYN | flagFIN | 0x20).String())
	assert.Equal(t, "Ping", framePing.String())
	assert.Equal(t, "UnknownType(9)", frameType(9).String())
	assert.Equal(t, "ENHANCE_YOUR_CALM", CodeEnhanceYourCalm.String())
	assert.Equal(t, "code(0x1234)", ErrorCode(0x1234).String())
}

// FuzzFrameHeader decodes arbitrary bytes: decoding never panics, encoding
// the result gives the same bytes back, and validation is total.
func FuzzFrameHeader(f *testing.F) {
	for _, h := range []frameHeader{
		{version: 1, typ: frameData, streamID: 1, length: 5},
		{version: 1, typ: frameWindowUpdate, flags: flagSYN, streamID: 3, length: 1 << 20},
		{version: 1, typ: framePing, flags: flagSYN, length: 1},
		{version: 1, typ: frameGoAway, flags: flagFIN},
		{version: 0, typ: frameWindowUpdate, flags: flagRST, streamID: 2},
	} {
		f.Add(h.appendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < frameHeaderLen {
			return
		}
		h := decodeHeader(b)
		require.True(t, bytes.Equal(b[:frameHeaderLen], h.appendTo(nil)))
		for _, v := range []uint8{0, 1} {
			if err := h.validate(v); err != nil {
				require.ErrorIs(t, err, ErrProtocol)
			}
		}
		_ = h.String()
	})
}
