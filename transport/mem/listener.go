package mem

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// Backlog is the number of dialed connections a Listener queues before
// Accept; further Dials wait for room.
const Backlog = 64

var (
	// ErrAddrInUse is returned, wrapped in a *net.OpError, by Listen when
	// the name is already registered.
	ErrAddrInUse = errors.New("mem: address already in use")

	// ErrConnRefused is returned, wrapped in a *net.OpError, by Dial when
	// no Listener is registered under the name or it closes while Dial
	// waits.
	ErrConnRefused = errors.New("mem: connection refused")
)

// registry maps names to open Listeners.
var registry struct {
	sync.Mutex
	m map[string]*Listener
}

// Listener accepts connections dialed by name with [Dialer.Dial]. Create it
// with [Listen]. Its methods are safe for concurrent use.
type Listener struct {
	addr      Addr
	queue     chan *Conn    // dialed, not yet accepted connections
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Listen registers a Listener under name, which must be non-empty and not
// already in use (else the error wraps ErrAddrInUse). The name is released
// by Close.
func Listen(name string) (*Listener, error) {
	if name == "" {
		return nil, &net.OpError{Op: "listen", Net: network, Err: errors.New("mem: empty listener name")}
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.m[name] != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: Addr(name), Err: ErrAddrInUse}
	}
	if registry.m == nil {
		registry.m = make(map[string]*Listener)
	}
	l := &Listener{
		addr:  Addr(name),
		queue: make(chan *Conn, Backlog),
		done:  make(chan struct{}),
	}
	registry.m[name] = l
	return l, nil
}

// Accept waits for and returns the next connection, a *Conn. After Close it
// returns an error matching net.ErrClosed.
func (l *Listener) Accept() (io.ReadWriteCloser, error) {
	select {
	case <-l.done: // closed: do not race with a queued connection
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.done:
		return nil, l.closedErr()
	}
}

func (l *Listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: network, Addr: l.addr, Err: net.ErrClosed}
}

// Close unregisters the Listener, unblocks pending Accepts and closes the
// connections that were dialed but not accepted. It always returns nil.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		registry.Lock()
		if registry.m[string(l.addr)] == l {
			delete(registry.m, string(l.addr))
		}
		registry.Unlock()
		close(l.done)
		for {
			select {
			case c := <-l.queue:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr returns the Listener's name as an [Addr].
func (l *Listener) Addr() net.Addr { return l.addr }

// Dialer connects to Listeners by name. The zero value is ready to use.
type Dialer struct {
	// BufferSize is the capacity of each direction of dialed connections;
	// values <= 0 select DefaultBufferSize.
	BufferSize int
}

// Dial connects to the Listener registered under addr and returns the
// client end, a *Conn whose RemoteAddr is addr. It returns as soon as the
// connection is queued for Accept; if the backlog is full it waits for room
// until ctx is done. Errors are *net.OpError values wrapping ErrConnRefused
// or ctx.Err().
func (d *Dialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: Addr(addr), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	registry.Lock()
	l := registry.m[addr]
	registry.Unlock()
	if l == nil {
		return nil, opErr(ErrConnRefused)
	}
	client, server := Pipe(WithBufferSize(d.BufferSize), WithAddrs(string(newAddr()), addr))
	select {
	case l.queue <- server:
	case <-l.done:
		return nil, opErr(ErrConnRefused)
	case <-ctx.Done():
		return nil, opErr(ctx.Err())
	}
	// If Close ran concurrently, its drain may have missed server. Closing
	// client is enough: server is unreachable or sees EOF.
	select {
	case <-l.done:
		client.Close()
		return nil, opErr(ErrConnRefused)
	default:
		return client, nil
	}
}
