package mem

import (
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBufferSize is the default capacity, in bytes, of each direction of
// a pipe.
const DefaultBufferSize = 256 << 10

// network is the value returned by Addr.Network and used in *net.OpError.
const network = "mem"

// Addr is the address of one end of a mem connection. It implements
// [net.Addr]; the address is the string itself.
type Addr string

// Network returns "mem".
func (a Addr) Network() string { return network }

// String returns the address, e.g. "mem:1" or a Listener's name.
func (a Addr) String() string { return string(a) }

// lastID numbers the ends of pipes with default addresses.
var lastID atomic.Uint64

// newAddr returns a fresh address of the form "mem:N".
func newAddr() Addr {
	return Addr("mem:" + strconv.FormatUint(lastID.Add(1), 10))
}

// Option configures [Pipe].
type Option func(*config)

type config struct {
	size       int
	addr1      Addr
	addr2      Addr
	addrsGiven bool
}

// WithBufferSize sets the capacity of each direction of the pipe to n
// bytes. Values n <= 0 select [DefaultBufferSize].
func WithBufferSize(n int) Option {
	return func(c *config) { c.size = n }
}

// WithAddrs names the two ends of the pipe: c1 gets local address a1 and
// remote address a2, c2 the reverse. By default the ends are given unique
// addresses "mem:N" and "mem:N+1".
func WithAddrs(a1, a2 string) Option {
	return func(c *config) { c.addr1, c.addr2, c.addrsGiven = Addr(a1), Addr(a2), true }
}

// Pipe creates a buffered, in-memory, full-duplex connection. Data written
// to c1 can be read from c2 and vice versa; each direction has its own
// bounded buffer. See the package documentation for the semantics.
func Pipe(opts ...Option) (c1, c2 *Conn) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.size <= 0 {
		cfg.size = DefaultBufferSize
	}
	if !cfg.addrsGiven {
		cfg.addr1, cfg.addr2 = newAddr(), newAddr()
	}
	p12, p21 := newPipe(cfg.size), newPipe(cfg.size)
	c1 = &Conn{rd: p21, wr: p12, local: cfg.addr1, remote: cfg.addr2}
	c2 = &Conn{rd: p12, wr: p21, local: cfg.addr2, remote: cfg.addr1}
	return c1, c2
}

// pipe is one direction of a connection: a ring buffer with the state of
// its reading and writing ends. Every state change broadcasts cond; waiters
// re-check their condition in a loop.
type pipe struct {
	mu   sync.Mutex
	cond sync.Cond // cond.L == &mu

	size int    // capacity
	buf  []byte // ring buffer, allocated on first write, dropped on reader close
	r    int    // index of the first buffered byte
	n    int    // number of buffered bytes

	rdl deadline // read deadline of the reading Conn
	wdl deadline // write deadline of the writing Conn

	rclosed bool // the reading Conn was closed
	wclosed bool // the writing Conn was closed
	wshut   bool // the writing Conn called CloseWrite
	writing bool // a Write is in progress; others wait their turn
}

func newPipe(size int) *pipe {
	p := &pipe{size: size}
	p.cond.L = &p.mu
	return p
}

// readErr reports why a Read cannot proceed, or nil. p.mu must be held.
func (p *pipe) readErr() error {
	switch {
	case p.rclosed:
		return net.ErrClosed
	case p.rdl.expired:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// writeErr reports why a Write cannot proceed, or nil. p.mu must be held.
func (p *pipe) writeErr() error {
	switch {
	case p.wclosed:
		return net.ErrClosed
	case p.rclosed, p.wshut:
		return io.ErrClosedPipe
	case p.wdl.expired:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// read moves up to len(b) buffered bytes into b. p.mu must be held.
func (p *pipe) read(b []byte) int {
	n := copy(b, p.buf[p.r:min(p.r+p.n, p.size)])
	if n < len(b) && n < p.n { // wrapped around
		n += copy(b[n:], p.buf[:p.n-n])
	}
	p.n -= n
	p.r = (p.r + n) % p.size
	if p.n == 0 {
		p.r = 0 // keep the data contiguous when possible
	}
	return n
}

// write copies as much of b as fits into the buffer. p.mu must be held.
func (p *pipe) write(b []byte) int {
	if p.buf == nil {
		p.buf = make([]byte, p.size)
	}
	free := p.size - p.n
	w := (p.r + p.n) % p.size
	n := copy(p.buf[w:min(w+free, p.size)], b)
	if n < len(b) && n < free { // wrap around
		n += copy(p.buf[:free-n], b[n:])
	}
	p.n += n
	return n
}

// Conn is one end of a buffered in-memory connection created by [Pipe] or
// by a [Listener]/[Dialer] pair. It implements [net.Conn]. All methods are
// safe for concurrent use.
type Conn struct {
	rd     *pipe // incoming direction
	wr     *pipe // outgoing direction
	local  Addr
	remote Addr
}

var _ net.Conn = (*Conn)(nil)

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: network, Source: c.local, Addr: c.remote, Err: err}
}

// Read reads up to len(b) buffered bytes, blocking while none are
// available. After the peer has closed or called CloseWrite and all
// buffered data has been read, Read returns exactly io.EOF. Other errors are
// *net.OpError values wrapping net.ErrClosed (this Conn was closed) or
// os.ErrDeadlineExceeded (the read deadline passed); an expired deadline is
// reported even if data is available.
func (c *Conn) Read(b []byte) (int, error) {
	p := c.rd
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if err := p.readErr(); err != nil {
			return 0, c.opError("read", err)
		}
		switch {
		case len(b) == 0:
			return 0, nil
		case p.n > 0:
			n := p.read(b)
			p.cond.Broadcast() // room for a blocked writer
			return n, nil
		case p.wclosed || p.wshut:
			return 0, io.EOF
		}
		p.cond.Wait()
	}
}

// Write copies b into the outgoing buffer, blocking while it is full, and
// returns once all of b is buffered or an error occurs; the count is how many
// bytes were buffered. Errors are *net.OpError values wrapping
// net.ErrClosed (this Conn was closed), io.ErrClosedPipe (the peer closed,
// or CloseWrite was called) or os.ErrDeadlineExceeded (the write deadline
// passed). Concurrent Writes do not interleave their bytes.
func (c *Conn) Write(b []byte) (int, error) {
	p := c.wr
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.writing { // wait for our turn
		if err := p.writeErr(); err != nil {
			return 0, c.opError("write", err)
		}
		p.cond.Wait()
	}
	p.writing = true
	defer func() { // runs before the deferred Unlock
		p.writing = false
		p.cond.Broadcast()
	}()
	n := 0
	for {
		if err := p.writeErr(); err != nil {
			return n, c.opError("write", err)
		}
		switch {
		case n == len(b):
			return n, nil
		case p.n < p.size:
			n += p.write(b[n:])
			p.cond.Broadcast() // data for a blocked reader
			continue
		}
		p.cond.Wait()
	}
}

// Close closes the connection. Pending and future Reads and Writes on c fail
// with an error matching net.ErrClosed. The peer can read the data buffered
// before Close and then gets io.EOF; its Writes fail with io.ErrClosedPipe.
// Close is idempotent and always returns nil.
func (c *Conn) Close() error {
	p := c.rd
	p.mu.Lock()
	p.rclosed = true
	p.buf, p.r, p.n = nil, 0, 0 // nobody can read it any more
	p.rdl.stop()
	p.cond.Broadcast()
	p.mu.Unlock()

	p = c.wr
	p.mu.Lock()
	p.wclosed = true
	p.wdl.stop()
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

// CloseWrite shuts down the sending direction: the peer reads the data
// already buffered and then io.EOF, and further Writes on c fail with
// io.ErrClosedPipe, while c can still Read. Calling it again has no effect;
// calling it after Close returns an error matching net.ErrClosed.
func (c *Conn) CloseWrite() error {
	p := c.wr
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wclosed {
		return c.opError("close", net.ErrClosed)
	}
	p.wshut = true
	p.cond.Broadcast()
	return nil
}

// Buffered returns the number of bytes that can be read from c without
// blocking.
func (c *Conn) Buffered() int {
	p := c.rd
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// LocalAddr returns the local address, an [Addr].
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address, an [Addr].
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both the read and the write deadline, as described in
// [net.Conn]. It fails with an error matching net.ErrClosed after Close.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for pending and future Reads; the zero
// time clears it. A deadline in the past makes Reads fail immediately.
func (c *Conn) SetReadDeadline(t time.Time) error {
	p := c.rd
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rclosed {
		return c.opError("set", net.ErrClosed)
	}
	p.rdl.set(p, t)
	return nil
}

// SetWriteDeadline sets the deadline for pending and future Writes; the
// zero time clears it. A deadline in the past makes Writes fail immediately.
// A Write that times out may have buffered part of its data.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	p := c.wr
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wclosed {
		return c.opError("set", net.ErrClosed)
	}
	p.wdl.set(p, t)
	return nil
}
