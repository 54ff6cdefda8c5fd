package conformance

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Faults describes what [Faulty] does to a connection. The zero value
// passes everything through.
type Faults struct {
	// Latency delays every write by this much before it is passed on.
	Latency time.Duration
	// Bandwidth limits writes to this many bytes per second (0: no limit).
	Bandwidth int
	// Split, when positive, cuts every Read and Write into pieces of
	// random size between 1 and Split bytes.
	Split int
	// Seed seeds the random sizes.
	Seed uint64
}

// FaultConn is a connection with injected faults. Stall and Resume stop
// and restart the flow of bytes (nothing closes); CutAfter closes the
// connection abruptly once n more bytes have been written, typically in
// the middle of a frame.
type FaultConn struct {
	c io.ReadWriteCloser
	f Faults

	mu      sync.Mutex
	cond    *sync.Cond
	rnd     *rand.Rand
	stalled bool
	closed  bool
	cut     int64 // bytes left before the cut; -1 none
	wmu     sync.Mutex
}

var errCut = errors.New("conformance: connection cut by fault injection")

// Faulty wraps c with the faults f.
func Faulty(c io.ReadWriteCloser, f Faults) *FaultConn {
	fc := &FaultConn{c: c, f: f, cut: -1, rnd: rand.New(rand.NewPCG(f.Seed, 0x5eed))}
	fc.cond = sync.NewCond(&fc.mu)
	return fc
}

// Stall stops the flow of bytes through this end in both directions:
// Writes and Reads block until Resume or Close. Nothing is closed.
func (fc *FaultConn) Stall() {
	fc.mu.Lock()
	fc.stalled = true
	fc.mu.Unlock()
}

// Resume ends a Stall.
func (fc *FaultConn) Resume() {
	fc.mu.Lock()
	fc.stalled = false
	fc.cond.Broadcast()
	fc.mu.Unlock()
}

// CutAfter closes the connection abruptly once n more bytes have been
// written: the write that crosses n is truncated there.
func (fc *FaultConn) CutAfter(n int64) {
	fc.mu.Lock()
	fc.cut = n
	fc.mu.Unlock()
}

// waitFlow blocks while stalled; false means the conn was closed.
func (fc *FaultConn) waitFlow() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for fc.stalled && !fc.closed {
		fc.cond.Wait()
	}
	return !fc.closed
}

func (fc *FaultConn) piece(n int) int {
	if fc.f.Split <= 0 || n <= 1 {
		return n
	}
	fc.mu.Lock()
	k := 1 + fc.rnd.IntN(fc.f.Split)
	fc.mu.Unlock()
	return min(n, k)
}

// Read reads through the faults.
func (fc *FaultConn) Read(p []byte) (int, error) {
	if !fc.waitFlow() {
		return 0, net.ErrClosed
	}
	n, err := fc.c.Read(p[:fc.piece(len(p))])
	if n > 0 && !fc.waitFlow() { // stalled while reading: hold the bytes back
		return 0, net.ErrClosed
	}
	return n, err
}

// Write writes through the faults.
func (fc *FaultConn) Write(p []byte) (int, error) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	total := 0
	for len(p) > 0 {
		if !fc.waitFlow() {
			return total, net.ErrClosed
		}
		k := fc.piece(len(p))
		fc.mu.Lock()
		cutNow := false
		if fc.cut >= 0 && int64(k) >= fc.cut {
			k, cutNow = int(fc.cut), true
		} else if fc.cut >= 0 {
			fc.cut -= int64(k)
		}
		fc.mu.Unlock()
		if d := fc.delay(k); d > 0 {
			time.Sleep(d)
		}
		n, err := fc.c.Write(p[:k])
		total += n
		if cutNow {
			fc.Close()
			return total, errCut
		}
		if err != nil {
			return total, err
		}
		p = p[k:]
	}
	return total, nil
}

func (fc *FaultConn) delay(n int) time.Duration {
	d := fc.f.Latency
	if fc.f.Bandwidth > 0 {
		d += time.Duration(int64(n) * int64(time.Second) / int64(fc.f.Bandwidth))
	}
	return d
}

// Close closes the connection and wakes stalled calls.
func (fc *FaultConn) Close() error {
	fc.mu.Lock()
	fc.closed = true
	fc.cond.Broadcast()
	fc.mu.Unlock()
	return fc.c.Close()
}

// LocalAddr returns the wrapped connection's address, if it has one.
func (fc *FaultConn) LocalAddr() net.Addr {
	if a, ok := fc.c.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// RemoteAddr returns the wrapped connection's peer address, if it has one.
func (fc *FaultConn) RemoteAddr() net.Addr {
	if a, ok := fc.c.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}
