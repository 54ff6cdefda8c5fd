package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ---- an emulated wide-area link: a TCP proxy with a rate, a delay and a queue ----

// linkSpec describes each direction of an emulated link (both alike).
type linkSpec struct {
	Rate  float64       `json:"rate_bytes_per_sec"` // the bottleneck's rate
	Delay time.Duration `json:"delay_ns"`           // one-way propagation delay
	Queue int           `json:"queue_bytes"`        // bytes waiting for the bottleneck at most
}

func (l linkSpec) String() string {
	return fmt.Sprintf("%v RTT, %s/s, %s queue", 2*l.Delay, size(int64(l.Rate)), size(int64(l.Queue)))
}

// mibps is the rate in MiB/s.
func (l linkSpec) mibps() float64 { return l.Rate / (1 << 20) }

// linkChunk is the most the proxy reads from a socket at once.
const linkChunk = 64 << 10

// smallChunk: a read this short is copied out of the read buffer, so that
// many small frames (window updates, pings) in flight don't each hold a
// 64 KiB buffer.
const smallChunk = 4 << 10

// link is a TCP proxy on loopback that forwards every connection made to
// it to target through an emulated link: in each direction the bytes of
// all connections share one bottleneck of spec.Rate, with a queue of at
// most spec.Queue bytes in front of it, and arrive spec.Delay after they
// left it. When the queue is full the proxy stops reading from the
// sending socket, so TCP's own flow control pushes back on the sender, as
// a full router queue does (without the loss).
//
// Each direction of each connection has a reader goroutine and a writer
// goroutine. The reader reads up to 64 KiB, books the bytes on the
// direction's bottleneck (a virtual clock: they leave it when the bytes
// booked before them have left and then their own serialisation time has
// passed) and queues them with their delivery time, departure + delay.
// The writer sleeps until the head's delivery time and writes everything
// due in one vectored write. So there is a timer per read, never per byte.
type link struct {
	spec   linkSpec
	target string
	ln     net.Listener
	up     *bottleneck // client to server
	down   *bottleneck // server to client
	bufs   chan []byte // free 64 KiB read buffers
	held   atomic.Int64
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// newLink listens on loopback and forwards each connection to target
// through an emulated link. Close it to end every connection.
func newLink(target string, spec linkSpec) (*link, error) {
	if spec.Rate <= 0 || spec.Delay < 0 || spec.Queue <= 0 {
		return nil, fmt.Errorf("link %v: rate and queue must be positive, delay not negative", spec)
	}
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return nil, err
	}
	l := &link{
		spec:   spec,
		target: target,
		ln:     ln,
		up:     &bottleneck{spec: spec},
		down:   &bottleneck{spec: spec},
		bufs:   make(chan []byte, 256),
		done:   make(chan struct{}),
		conns:  map[net.Conn]struct{}{},
	}
	l.wg.Go(l.acceptLoop)
	return l, nil
}

// Addr is where to connect to reach target through the link.
func (l *link) Addr() string { return l.ln.Addr().String() }

// heldBytes is the heap the link holds: its read buffers (in use or
// free) and the short reads copied out of them.
func (l *link) heldBytes() int64 { return l.held.Load() }

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (l *link) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.ln.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
	})
	l.wg.Wait()
	return nil
}

func (l *link) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *link) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

func (l *link) acceptLoop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.track(c) {
			return
		}
		l.wg.Go(func() { l.serve(c) })
	}
}

// serve connects c to the target and forwards both ways until both
// directions have ended.
func (l *link) serve(c net.Conn) {
	defer l.untrack(c)
	t, err := net.DialTimeout("tcp", l.target, setupTimeout)
	if err != nil {
		return
	}
	if !l.track(t) {
		return
	}
	defer l.untrack(t)
	var wg sync.WaitGroup
	p1 := newPipe(l, c, t, l.up)
	p2 := newPipe(l, t, c, l.down)
	wg.Go(p1.readLoop)
	wg.Go(p1.writeLoop)
	wg.Go(p2.readLoop)
	wg.Go(p2.writeLoop)
	wg.Wait()
}

func (l *link) getBuf() []byte {
	select {
	case b := <-l.bufs:
		return b
	default:
		l.held.Add(linkChunk)
		return make([]byte, linkChunk)
	}
}

func (l *link) putBuf(b []byte) {
	if cap(b) != linkChunk {
		l.held.Add(-int64(cap(b)))
		return
	}
	select {
	case l.bufs <- b[:linkChunk]:
	default:
		l.held.Add(-linkChunk)
	}
}

// bottleneck is one direction's rate limit and queue, shared by every
// connection through the link.
type bottleneck struct {
	spec     linkSpec
	mu       sync.Mutex
	free     time.Time // when the bytes booked so far have all left
	maxQueue int64     // the most bytes ever waiting, for tests
}

// book books n bytes that arrived at now. It returns when they are
// delivered at the far end, and how long the reader must wait before it
// reads again because the queue is over its bound.
func (b *bottleneck) book(n int, now time.Time) (deliver time.Time, wait time.Duration) {
	b.mu.Lock()
	start := b.free
	if start.Before(now) {
		start = now
	}
	b.free = start.Add(time.Duration(float64(n) / b.spec.Rate * float64(time.Second)))
	left := b.free
	queued := int64(left.Sub(now).Seconds() * b.spec.Rate)
	b.maxQueue = max(b.maxQueue, queued)
	b.mu.Unlock()
	if over := queued - int64(b.spec.Queue); over > 0 {
		wait = time.Duration(float64(over) / b.spec.Rate * float64(time.Second))
	}
	return left.Add(b.spec.Delay), wait
}

// maxQueued is the largest queue the bottleneck has held, in bytes.
func (b *bottleneck) maxQueued() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxQueue
}

// pipe is one direction of one proxied connection.
type pipe struct {
	l        *link
	src, dst net.Conn
	neck     *bottleneck
	limit    int // bytes in flight at most (the writer may be blocked by its receiver)

	mu      sync.Mutex
	cond    *sync.Cond
	q       []chunk
	inQueue int
	eof     bool // the reader is done; the writer ends when q is empty
	broken  bool // the writer failed; the reader stops
}

type chunk struct {
	b  []byte
	at time.Time // delivery time
}

func newPipe(l *link, src, dst net.Conn, neck *bottleneck) *pipe {
	p := &pipe{l: l, src: src, dst: dst, neck: neck,
		limit: l.spec.Queue + int(l.spec.Rate*l.spec.Delay.Seconds()) + 4*linkChunk}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// readLoop reads from src, books what it read on the bottleneck and
// queues it for the writer. It pauses while the bottleneck's queue is
// full or while more than limit bytes wait for delivery.
func (p *pipe) readLoop() {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	defer func() {
		p.mu.Lock()
		p.eof = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	for {
		buf := p.l.getBuf()
		n, err := p.src.Read(buf)
		if n > 0 {
			b := buf[:n]
			if n <= smallChunk {
				b = append([]byte(nil), b...)
				p.l.held.Add(int64(cap(b)))
				p.l.putBuf(buf)
			}
			at, wait := p.neck.book(n, time.Now())
			p.mu.Lock()
			p.q = append(p.q, chunk{b, at})
			p.inQueue += n
			p.cond.Broadcast()
			for p.inQueue > p.limit && !p.broken && !p.closing() {
				p.cond.Wait()
			}
			broken := p.broken
			p.mu.Unlock()
			if broken {
				return
			}
			if wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-p.l.done:
					return
				}
			}
		} else {
			p.l.putBuf(buf)
		}
		if err != nil {
			return
		}
	}
}

func (p *pipe) closing() bool {
	select {
	case <-p.l.done:
		return true
	default:
		return false
	}
}

// writeLoop writes each queued chunk to dst at its delivery time, all
// chunks due at once in one vectored write. After the reader's EOF it
// half-closes dst; after a write error it closes src, which ends the
// reader.
func (p *pipe) writeLoop() {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	var due []chunk
	var bufs net.Buffers
	for {
		p.mu.Lock()
		for len(p.q) == 0 && !p.eof {
			p.cond.Wait()
		}
		if len(p.q) == 0 { // and eof
			p.mu.Unlock()
			if tc, ok := p.dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
		at := p.q[0].at
		p.mu.Unlock()
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-p.l.done:
				p.mu.Lock()
				p.broken = true
				p.cond.Broadcast()
				p.mu.Unlock()
				return
			}
		}
		now := time.Now()
		p.mu.Lock()
		due = due[:0]
		k := 0
		for k < len(p.q) && !p.q[k].at.After(now) {
			due = append(due, p.q[k])
			k++
		}
		p.q = p.q[k:]
		if len(p.q) == 0 {
			p.q = nil // let the backing array go
		}
		p.mu.Unlock()

		bufs = bufs[:0]
		n := 0
		for _, c := range due {
			bufs = append(bufs, c.b)
			n += len(c.b)
		}
		_, err := bufs.WriteTo(p.dst)
		for _, c := range due {
			p.l.putBuf(c.b)
		}
		p.mu.Lock()
		p.inQueue -= n
		if err != nil {
			p.broken = true
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if err != nil {
			p.src.Close() // unblocks the reader
			return
		}
	}
}

// ---- connecting a pair of carrier endpoints through a link ----

// netListener is a net.Listener as a transport.Listener.
type netListener struct{ net.Listener }

func (l netListener) Accept() (io.ReadWriteCloser, error) { return rwc(l.Listener.Accept()) }
