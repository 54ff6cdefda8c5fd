package main

import (
	"io"
	"net"
	"sync"
)

// ---- raw TCP plus a reader goroutine: the floor of a reader-goroutine design ----

// tcpHandoff is raw TCP, one connection per stream, where each connection
// is read by a goroutine of its own that hands every read to the
// application through a mutex and a channel, and nothing else: no
// framing, no flow control, no other stream. A multiplexer must read its
// transport on a goroutine of its own (the frames are for any stream), so
// this is the floor for one: what netmux pays beyond it is the mux, what
// it pays up to it is the hand-off between goroutines.
type tcpHandoff struct{}

func (tcpHandoff) name() string { return "tcp+handoff" }

// runs: the scenarios where a hand-off per read is what is measured.
func (tcpHandoff) runs(scenario string) bool {
	switch scenario {
	case "bulk1", "rpc", "fair", "allocs":
		return true
	}
	return false
}

func (tcpHandoff) setup() (sessionLike, sessionLike, error) {
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	dial := func() (io.ReadWriteCloser, error) {
		c, err := net.DialTimeout("tcp", addr, setupTimeout)
		if err != nil {
			return nil, err
		}
		return newHandoffConn(c), nil
	}
	accept := func() (io.ReadWriteCloser, error) {
		c, err := ln.Accept()
		if err != nil {
			return nil, err
		}
		return newHandoffConn(c), nil
	}
	return &dialSide{dial: dial}, &listenSide{accept: accept, close: ln.Close}, nil
}

// handoffConn reads its connection on its own goroutine, one read at a
// time: the goroutine reads into buf, hands it over (ready) and waits
// until the application has emptied it (free) before it reads again, so
// that, like a mux's window, it buffers a bounded amount.
type handoffConn struct {
	net.Conn
	mu    sync.Mutex
	buf   []byte
	r, w  int   // buf[r:w] is unread; guarded by mu
	err   error // the read error, after buf is drained; guarded by mu
	ready chan struct{}
	free  chan struct{}
	done  chan struct{} // closed by Close
	once  sync.Once
	exit  chan struct{} // closed when the reader goroutine returns
}

func newHandoffConn(c net.Conn) *handoffConn {
	h := &handoffConn{
		Conn:  c,
		buf:   make([]byte, 64<<10),
		ready: make(chan struct{}, 1),
		free:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		exit:  make(chan struct{}),
	}
	go h.readLoop()
	return h
}

func (h *handoffConn) readLoop() {
	defer close(h.exit)
	for {
		n, err := h.Conn.Read(h.buf) // buf is empty: the application waits
		if n == 0 && err == nil {
			continue
		}
		h.mu.Lock()
		h.r, h.w, h.err = 0, n, err
		h.mu.Unlock()
		notify(h.ready)
		if err != nil {
			return
		}
		select {
		case <-h.free:
		case <-h.done:
			return
		}
	}
}

// Read returns what the reader goroutine handed over.
func (h *handoffConn) Read(p []byte) (int, error) {
	for {
		h.mu.Lock()
		if h.r < h.w {
			n := copy(p, h.buf[h.r:h.w])
			h.r += n
			emptied := h.r == h.w
			h.mu.Unlock()
			if emptied {
				notify(h.free)
			}
			return n, nil
		}
		err := h.err
		h.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-h.ready:
		case <-h.done:
			return 0, net.ErrClosed
		}
	}
}

// Close closes the connection and waits for the reader goroutine.
func (h *handoffConn) Close() error {
	var err error
	h.once.Do(func() {
		close(h.done)
		err = h.Conn.Close()
	})
	<-h.exit
	return err
}

// notify wakes whoever waits on c, a channel of capacity 1.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
