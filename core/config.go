package core

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config tunes a session. Start from [DefaultConfig] and change fields;
// [Client] and [Server] call [Config.Validate] and refuse an invalid one.
//
// Memory a peer can make a session buffer is bounded by
// MaxStreams*InitialStreamWindow + SessionReceiveBudget.
type Config struct {
	// ProtocolVersion is 1 for netmux, or 0 to speak the hashicorp/yamux
	// protocol with yamux peers.
	ProtocolVersion uint8

	// InitialStreamWindow is the receive window each stream starts with,
	// advertised to the peer. At least 256 KiB (the protocol's initial
	// credit).
	InitialStreamWindow uint32

	// MaxStreamWindow caps how far auto-tuning grows a stream's receive
	// window. Equal to InitialStreamWindow disables auto-tuning. A stream
	// moves at most about 3/4 of its window per round trip, so the
	// default, 32 MiB, lets one stream fill a path of 24 MiB in flight
	// (100 MiB/s over 200 ms, with 40 ms of queues on the way).
	MaxStreamWindow uint32

	// SessionReceiveBudget is the session-wide pool that window growth
	// beyond InitialStreamWindow is drawn from: the most all the streams'
	// grown windows together may add to their initial ones. The default,
	// 64 MiB, lets two streams grow to MaxStreamWindow, or 8 streams share
	// a 200 ms, 100 MiB/s path. Window growth takes what is left when the
	// budget runs low, and gives it back when its stream ends.
	SessionReceiveBudget uint64

	// MaxFrameSize is the largest Data payload this side sends; writes are
	// split into frames of at most this size.
	MaxFrameSize uint32

	// MaxStreams bounds the streams open at once (both directions). A
	// local OpenStream waits while it is reached; the peer's streams past
	// it are refused with RST. A peer with the same limit that only opens
	// is never refused: it counts every stream at least as long as we do.
	MaxStreams int

	// AcceptBacklog bounds streams opened by the peer and not yet accepted.
	// Past it, new streams are refused with RST. It is at least 256, the
	// most unacknowledged streams the protocol lets an opener have, so a
	// peer that keeps to the protocol is never refused for it.
	AcceptBacklog int

	// MaxControlFrames bounds control frames (ACKs, window updates, ping
	// replies, resets) queued for sending. When it is full, the reader
	// waits for the writer to drain it; if that takes longer than
	// WriteTimeout (the peer is not reading what it provokes), the session
	// ends with ENHANCE_YOUR_CALM.
	MaxControlFrames int

	// RapidResetLimit bounds the streams the peer may open and reset
	// before the application accepted them, in any 10-second window. Past
	// it the session ends with ENHANCE_YOUR_CALM (the HTTP/2 Rapid Reset
	// attack).
	RapidResetLimit int

	// EmptyFrameLimit bounds frames that carry nothing (zero-length Data or
	// zero-credit WindowUpdate without flags) per second. Past it the
	// session ends with ENHANCE_YOUR_CALM.
	EmptyFrameLimit int

	// KeepAliveInterval is how often a ping is sent; 0 disables keepalive.
	KeepAliveInterval time.Duration

	// KeepAliveTimeout ends the session when nothing at all has been
	// received for this long after a keepalive ping was sent.
	KeepAliveTimeout time.Duration

	// OpenTimeout resets a stream the peer has not accepted in this time
	// (0: wait forever).
	OpenTimeout time.Duration

	// WriteTimeout ends the session when the transport does not accept a
	// write for this long (0: no limit).
	WriteTimeout time.Duration

	// CloseTimeout bounds Close: flushing, the GoAway handshake and
	// joining goroutines.
	CloseTimeout time.Duration

	// StreamCloseTimeout resets a stream this side has closed when the peer
	// does not close its half within this time (0: wait forever).
	StreamCloseTimeout time.Duration

	// OpaqueCarrier makes the session treat its connection as a plain
	// io.ReadWriteCloser, even where it is, or transparently wraps, a
	// *net.TCPConn: no kernel RTT or MSS, no direct socket I/O and no
	// vectored writes, only the connection's Read, Write and Close. For
	// tests, and for a carrier whose wrapper does not keep the
	// TransparentConn contract (docs/architecture.md, the carrier seam).
	OpaqueCarrier bool

	// Logger receives the few events worth logging (protocol errors,
	// keepalive timeouts). Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration sessions use unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		ProtocolVersion:      protoVersion,
		InitialStreamWindow:  initialCredit,
		MaxStreamWindow:      32 << 20,
		SessionReceiveBudget: 64 << 20,
		MaxFrameSize:         64 << 10,
		MaxStreams:           1024,
		AcceptBacklog:        256,
		MaxControlFrames:     4096,
		RapidResetLimit:      1000,
		EmptyFrameLimit:      1000,
		KeepAliveInterval:    15 * time.Second,
		KeepAliveTimeout:     30 * time.Second,
		OpenTimeout:          30 * time.Second,
		WriteTimeout:         15 * time.Second,
		CloseTimeout:         5 * time.Second,
		StreamCloseTimeout:   time.Minute,
	}
}

// ErrInvalidConfig is matched by every error [Config.Validate] returns;
// errors.As finds the *ConfigError, which names the field.
var ErrInvalidConfig = errors.New("netmux: invalid config")

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // the Config field at fault
	Reason string
}

func (e *ConfigError) Error() string {
	return "netmux: invalid config: " + e.Field + ": " + e.Reason
}

func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Validate reports the first invalid field as a *ConfigError (matching
// ErrInvalidConfig), or nil.
func (c Config) Validate() error {
	var err error
	check := func(ok bool, field, format string, args ...any) {
		if !ok && err == nil {
			err = &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
		}
	}
	check(c.ProtocolVersion == protoVersion || c.ProtocolVersion == yamuxVersion,
		"ProtocolVersion", "%d (want 0 or 1)", c.ProtocolVersion)
	check(c.InitialStreamWindow >= initialCredit,
		"InitialStreamWindow", "%d below the protocol's %d", c.InitialStreamWindow, initialCredit)
	check(c.MaxStreamWindow >= c.InitialStreamWindow,
		"MaxStreamWindow", "%d below InitialStreamWindow %d", c.MaxStreamWindow, c.InitialStreamWindow)
	check(c.MaxStreamWindow <= 1<<30, "MaxStreamWindow", "%d above 1 GiB", c.MaxStreamWindow)
	check(c.MaxFrameSize >= 1024 && c.MaxFrameSize <= 1<<24,
		"MaxFrameSize", "%d outside [1 KiB, 16 MiB]", c.MaxFrameSize)
	check(c.MaxStreams > 0, "MaxStreams", "%d must be positive", c.MaxStreams)
	check(c.AcceptBacklog >= openWindow, "AcceptBacklog",
		"%d below the protocol's %d unacknowledged opens", c.AcceptBacklog, openWindow)
	check(c.MaxControlFrames >= 16, "MaxControlFrames", "%d below 16", c.MaxControlFrames)
	check(c.RapidResetLimit > 0, "RapidResetLimit", "%d must be positive", c.RapidResetLimit)
	check(c.EmptyFrameLimit > 0, "EmptyFrameLimit", "%d must be positive", c.EmptyFrameLimit)
	check(c.KeepAliveInterval >= 0, "KeepAliveInterval", "negative")
	check(c.KeepAliveTimeout >= 0, "KeepAliveTimeout", "negative")
	check(c.KeepAliveInterval == 0 || c.KeepAliveTimeout > 0,
		"KeepAliveTimeout", "must be positive when keepalive is on")
	check(c.OpenTimeout >= 0, "OpenTimeout", "negative")
	check(c.WriteTimeout >= 0, "WriteTimeout", "negative")
	check(c.StreamCloseTimeout >= 0, "StreamCloseTimeout", "negative")
	check(c.CloseTimeout > 0, "CloseTimeout", "%v must be positive", c.CloseTimeout)
	return err
}

var errNilConn = errors.New("netmux: nil connection")
