package kcp

import (
	"errors"
	"fmt"
	"sync"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"
)

// Defaults of the tuned profile. The zero [Options] value selects them.
const (
	DefaultMTU        = 1350                  // UDP payload, headers included
	DefaultWindow     = 1024                  // packets, each direction
	DefaultInterval   = 10 * time.Millisecond // KCP update tick
	DefaultResend     = 2                     // fast retransmit after 2 skipping ACKs
	DefaultSockBuffer = 4 << 20               // SO_RCVBUF and SO_SNDBUF
	DefaultLinger     = 150 * time.Millisecond
)

// Header bytes kcp-go adds to each packet in front of KCP's own MTU.
const (
	cryptHeader = 16 + 4 // nonce + CRC32
	fecHeader   = 6 + 2  // FEC header + size
	maxMTU      = 1500   // kcp-go's packet buffer size
	minKCPMTU   = 50     // KCP refuses smaller
)

// Options configure a [Dialer] or a [Listener]. The zero value is the
// profile described in the package documentation. Key, DataShards and
// ParityShards must be identical on both ends: a mismatch produces no
// error, only a connection on which nothing ever arrives.
type Options struct {
	// Key enables packet encryption (AES in CFB mode with a CRC32) with
	// a 16, 24 or 32-byte key: AES-128, -192 or -256. Nil: none. This
	// hides traffic from a passive observer; it does not authenticate
	// the peer or protect integrity against an active one: run TLS
	// over KCP (transport/tls) for that. Derive the key from a
	// passphrase with a KDF (kcptun uses PBKDF2).
	Key []byte

	// DataShards and ParityShards turn on Reed-Solomon forward error
	// correction: after every DataShards packets, ParityShards parity
	// packets are sent, so that many lost packets of a group are
	// recovered without a retransmit. Both zero: off (the default);
	// kcptun uses 10 and 3. It costs ParityShards/DataShards extra
	// bandwidth, and CPU: with AES, a session echo on loopback ran at a
	// third of the plain profile's speed.
	DataShards, ParityShards int

	// MTU is the largest UDP payload sent, encryption and FEC headers
	// included (0: DefaultMTU; at most 1500).
	MTU int

	// SendWindow and ReceiveWindow are KCP's windows in packets
	// (0: DefaultWindow). A session moves at most about
	// Window*MTU/RTT bytes per second.
	SendWindow, ReceiveWindow int

	// Interval is KCP's internal update tick, which paces retransmits
	// and delayed ACKs (0: DefaultInterval; 10 ms to 5 s).
	Interval time.Duration

	// Resend retransmits a packet early once this many later packets
	// were acknowledged (0: DefaultResend; negative: off).
	Resend int

	// DisableNoDelay selects KCP's normal mode: a 100 ms minimum
	// retransmit timeout that grows by a whole RTO on each retransmit,
	// instead of the no-delay mode's 30 ms and half an RTO.
	DisableNoDelay bool

	// CongestionControl turns on KCP's congestion window. Off by
	// default, as in kcptun's fast modes: the windows alone limit the
	// rate.
	CongestionControl bool

	// DelayedACK sends ACKs with the next update tick instead of at once
	// for every packet. Immediate ACKs (the default) are 15-40% faster
	// on loopback and cost one small packet per data packet on real
	// links.
	DelayedACK bool

	// WriteDelay holds written data until the next update tick so that
	// small writes are merged into fewer packets; off by default, so a
	// Write is sent at once.
	WriteDelay bool

	// ReadBuffer and WriteBuffer size the UDP socket's kernel buffers
	// (0: DefaultSockBuffer; negative: leave the OS default). The
	// kernel silently caps them at net.core.rmem_max/wmem_max.
	ReadBuffer, WriteBuffer int

	// Linger is the most that Close waits, after the last Write, for
	// queued data to reach the peer before the session is dropped
	// (0: DefaultLinger; negative: no linger). KCP's own close
	// discards everything unsent; see the package documentation.
	Linger time.Duration
}

// Validate reports the first invalid option, or nil.
func (o Options) Validate() error {
	_, err := o.resolve()
	return err
}

// config is Options with defaults applied and derived values.
type config struct {
	Options
	kcpMTU   int // MTU handed to KCP: o.MTU less kcp-go's headers
	interval int // milliseconds
	resend   int
	nodelay  int
	nc       int
	block    kcpgo.BlockCrypt // nil without a key
}

var errOption = errors.New("kcp: invalid option")

func (o Options) resolve() (*config, error) {
	bad := func(format string, args ...any) (*config, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{errOption}, args...)...)
	}
	c := &config{Options: o}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.SendWindow == 0 {
		c.SendWindow = DefaultWindow
	}
	if c.ReceiveWindow == 0 {
		c.ReceiveWindow = DefaultWindow
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	switch {
	case c.Resend == 0:
		c.resend = DefaultResend
	case c.Resend > 0:
		c.resend = c.Resend
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultSockBuffer
	}
	if c.WriteBuffer == 0 {
		c.WriteBuffer = DefaultSockBuffer
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Linger < 0 {
		c.Linger = 0
	}
	c.nodelay = 1
	if c.DisableNoDelay {
		c.nodelay = 0
	}
	c.nc = 1
	if c.CongestionControl {
		c.nc = 0
	}

	switch {
	case c.SendWindow < 0 || c.ReceiveWindow < 0:
		return bad("negative window %d/%d", c.SendWindow, c.ReceiveWindow)
	case c.Interval < 10*time.Millisecond || c.Interval > 5*time.Second:
		return bad("Interval %v outside [10ms, 5s]", c.Interval)
	case c.DataShards < 0 || c.ParityShards < 0:
		return bad("negative FEC shards %d/%d", c.DataShards, c.ParityShards)
	case (c.DataShards == 0) != (c.ParityShards == 0):
		return bad("FEC needs both DataShards and ParityShards (got %d/%d)", c.DataShards, c.ParityShards)
	case c.DataShards+c.ParityShards > 256:
		return bad("FEC shards %d+%d exceed 256", c.DataShards, c.ParityShards)
	}
	c.interval = int(c.Interval / time.Millisecond)

	header := 0
	if c.Key != nil {
		switch len(c.Key) {
		case 16, 24, 32:
		default:
			return bad("Key is %d bytes (want 16, 24 or 32)", len(c.Key))
		}
		header += cryptHeader
		c.block = newCrypt(c.Key)
	}
	if c.DataShards > 0 {
		header += fecHeader
	}
	c.kcpMTU = c.MTU - header
	if c.MTU > maxMTU || c.kcpMTU < minKCPMTU {
		return bad("MTU %d outside [%d, %d]", c.MTU, minKCPMTU+header, maxMTU)
	}
	return c, nil
}

// tune applies the profile to a session.
func (c *config) tune(s *kcpgo.UDPSession) {
	// Stream mode merges small writes into full segments. kcp-go marks
	// the setter deprecated (without a rationale) but it still works.
	s.SetStreamMode(true)
	s.SetWriteDelay(c.WriteDelay)
	s.SetNoDelay(c.nodelay, c.interval, c.resend, c.nc)
	s.SetWindowSize(c.SendWindow, c.ReceiveWindow)
	s.SetMtu(c.kcpMTU)
	s.SetACKNoDelay(!c.DelayedACK)
}

// sockBuffers sizes a UDP socket's kernel buffers.
func (c *config) sockBuffers(conn interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}) error {
	if c.ReadBuffer > 0 {
		if err := conn.SetReadBuffer(c.ReadBuffer); err != nil {
			return err
		}
	}
	if c.WriteBuffer > 0 {
		if err := conn.SetWriteBuffer(c.WriteBuffer); err != nil {
			return err
		}
	}
	return nil
}

// crypt makes kcp-go's AES block crypt safe for concurrent use. Its
// Encrypt works in a scratch buffer inside the value, and a kcp-go
// Listener hands one value to every session it creates, whose
// goroutines then encrypt at the same time (a data race that corrupts
// packets). Each call here borrows an instance of its own.
type crypt struct {
	key  []byte
	pool sync.Pool
}

func newCrypt(key []byte) *crypt {
	c := &crypt{key: append([]byte(nil), key...)}
	c.pool.New = func() any {
		b, err := kcpgo.NewAESBlockCrypt(c.key)
		if err != nil { // the key length was validated
			panic("kcp: " + err.Error())
		}
		return b
	}
	return c
}

func (c *crypt) Encrypt(dst, src []byte) {
	b := c.pool.Get().(kcpgo.BlockCrypt)
	b.Encrypt(dst, src)
	c.pool.Put(b)
}

func (c *crypt) Decrypt(dst, src []byte) {
	b := c.pool.Get().(kcpgo.BlockCrypt)
	b.Decrypt(dst, src)
	c.pool.Put(b)
}
