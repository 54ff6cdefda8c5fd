package core

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// ErrorCode is carried by RST (a stream reset) and GoAway (a session end).
// Codes 0x00 to 0xFF are defined by the protocol; applications may use any
// other value with [Stream.Reset].
type ErrorCode uint32

// Protocol-defined error codes. See docs/protocol.md.
const (
	CodeNoError         ErrorCode = 0 // normal end
	CodeProtocol        ErrorCode = 1 // the peer broke the protocol
	CodeInternal        ErrorCode = 2 // local failure unrelated to the peer
	CodeFlowControl     ErrorCode = 3 // data beyond credit, or credit overflow
	CodeRefused         ErrorCode = 4 // stream refused: limit, backlog or GoAway
	CodeCancel          ErrorCode = 5 // the application gave up on the stream
	CodeTimeout         ErrorCode = 6 // open, close or keepalive timeout
	CodeEnhanceYourCalm ErrorCode = 7 // the peer is flooding
)

var codeNames = map[ErrorCode]string{
	CodeNoError:         "NO_ERROR",
	CodeProtocol:        "PROTOCOL_ERROR",
	CodeInternal:        "INTERNAL_ERROR",
	CodeFlowControl:     "FLOW_CONTROL_ERROR",
	CodeRefused:         "REFUSED",
	CodeCancel:          "CANCEL",
	CodeTimeout:         "TIMEOUT",
	CodeEnhanceYourCalm: "ENHANCE_YOUR_CALM",
}

func (c ErrorCode) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code(0x%x)", uint32(c))
}

// Sentinel errors. Test for them with [errors.Is].
var (
	// ErrSessionClosed is returned by operations on a session (or its
	// streams) that has ended. errors.Is(err, net.ErrClosed) is also true.
	// When the session ended for a reason other than a local Close, the
	// error wraps that reason as well (see [Session.Err]).
	ErrSessionClosed error = &closedError{}

	// ErrGoAway is matched by the *GoAwayError returned when opening a
	// stream after the peer sent GoAway.
	ErrGoAway = errors.New("netmux: peer sent GoAway")

	// ErrStreamLimit is returned by TryOpenStream where OpenStream would
	// wait for room: MaxStreams streams are open, or the peer has not yet
	// acknowledged as many of ours as the protocol allows.
	ErrStreamLimit = errors.New("netmux: too many streams")

	// ErrStreamsExhausted is returned by OpenStream when the session has
	// used every stream ID it may open.
	ErrStreamsExhausted = errors.New("netmux: stream IDs exhausted")

	// ErrWriteClosed is returned by Write after CloseWrite or Close.
	// errors.Is(err, net.ErrClosed) is also true.
	ErrWriteClosed error = &streamClosedError{"netmux: write on closed stream"}

	// ErrStreamClosed is returned by a second Close of a stream, and by
	// CloseWrite, CloseRead and the deadline setters after Close.
	// errors.Is(err, net.ErrClosed) is also true.
	ErrStreamClosed error = &streamClosedError{"netmux: use of closed stream"}

	// ErrReadClosed is returned by Read after CloseRead or Close.
	// errors.Is(err, net.ErrClosed) is also true.
	ErrReadClosed error = &streamClosedError{"netmux: read on closed stream"}

	// ErrKeepaliveTimeout ends a session whose peer stopped answering.
	// It is a [net.Error] whose Timeout method reports true.
	ErrKeepaliveTimeout error = &timeoutError{msg: "netmux: keepalive timeout"}

	// ErrWriteTimeout ends a session whose transport did not accept a
	// write within Config.WriteTimeout.
	ErrWriteTimeout error = &timeoutError{msg: "netmux: transport write timeout"}

	// ErrProtocol is matched by every *ProtocolError.
	ErrProtocol = errors.New("netmux: protocol error")
)

// errDeadline is returned when a stream deadline passes. It is a net.Error
// with Timeout() == true and matches os.ErrDeadlineExceeded.
var errDeadline error = &timeoutError{msg: "netmux: i/o timeout", deadline: true}

// timeoutError is a net.Error whose Timeout method reports true.
type timeoutError struct {
	msg      string
	deadline bool // matches os.ErrDeadlineExceeded
}

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return e.deadline && target == os.ErrDeadlineExceeded
}

type streamClosedError struct{ msg string }

func (e *streamClosedError) Error() string        { return e.msg }
func (e *streamClosedError) Is(target error) bool { return target == net.ErrClosed }

// closedError is the type of ErrSessionClosed. With a cause it reports
// why the session ended and unwraps to it.
type closedError struct{ cause error }

func (e *closedError) Error() string {
	if e.cause == nil {
		return "netmux: session closed"
	}
	return "netmux: session closed: " + e.cause.Error()
}

func (e *closedError) Unwrap() error { return e.cause }

func (e *closedError) Is(target error) bool {
	return target == ErrSessionClosed || target == net.ErrClosed
}

// sessionClosedBy returns the error operations see after the session ended
// because of cause (nil for a plain local Close).
func sessionClosedBy(cause error) error {
	if cause == nil {
		return ErrSessionClosed
	}
	return &closedError{cause: cause}
}

// StreamError reports that a stream was reset, by the peer (Remote) or
// locally, with a code.
type StreamError struct {
	StreamID uint32
	Code     ErrorCode
	Remote   bool
}

func (e *StreamError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	return fmt.Sprintf("netmux: stream %d reset %s: %s", e.StreamID, who, e.Code)
}

// GoAwayError reports a GoAway: the peer refuses new streams (when
// returned by OpenStream) or ended the session with Code (when returned
// by [Session.Err]). It matches [ErrGoAway].
type GoAwayError struct {
	Code   ErrorCode
	Remote bool
}

func (e *GoAwayError) Error() string {
	if e.Remote {
		return "netmux: peer sent GoAway: " + e.Code.String()
	}
	return "netmux: sent GoAway: " + e.Code.String()
}

func (e *GoAwayError) Is(target error) bool { return target == ErrGoAway }

// ProtocolError describes a protocol violation by the peer: Code is what
// the session sent in its GoAway and Reason says what was wrong.
type ProtocolError struct {
	Code   ErrorCode
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("netmux: protocol error (%s): %s", e.Code, e.Reason)
}

func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protocolErrorf(code ErrorCode, format string, args ...any) error {
	return &ProtocolError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// goAwayCodeFor picks the GoAway code that reports err to the peer.
func goAwayCodeFor(err error) ErrorCode {
	var pe *ProtocolError
	switch {
	case err == nil:
		return CodeNoError
	case errors.As(err, &pe):
		return pe.Code
	case errors.Is(err, ErrKeepaliveTimeout), errors.Is(err, ErrWriteTimeout):
		return CodeTimeout
	default:
		return CodeInternal
	}
}
