package conformance

import (
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
)

// Wire constants of docs/protocol.md, for the hostile peer. They are
// written from the spec, not taken from the core package.
const (
	TypeData, TypeWindowUpdate, TypePing, TypeGoAway uint8  = 0, 1, 2, 3
	FlagSYN, FlagACK, FlagFIN, FlagRST               uint16 = 1, 2, 4, 8
)

// Frame is any frame a hostile peer may send: every header field is free.
// Payload follows the header as is, whatever Length says.
type Frame struct {
	Version  uint8
	Type     uint8
	Flags    uint16
	StreamID uint32
	Length   uint32
	Payload  []byte
}

// AppendTo appends the frame's bytes to b.
func (f Frame) AppendTo(b []byte) []byte {
	var h [12]byte
	h[0], h[1] = f.Version, f.Type
	binary.BigEndian.PutUint16(h[2:], f.Flags)
	binary.BigEndian.PutUint32(h[4:], f.StreamID)
	binary.BigEndian.PutUint32(h[8:], f.Length)
	return append(append(b, h[:]...), f.Payload...)
}

// HostilePeer drives a victim session with raw frames over one end of a
// transport pair: it can send any header, read what the victim sends,
// drain it, or withhold reads entirely.
type HostilePeer struct {
	conn io.ReadWriteCloser

	wmu  sync.Mutex
	wbuf []byte

	drainOnce sync.Once
	drained   chan struct{}
}

// NewHostilePeer wraps the raw end conn.
func NewHostilePeer(conn io.ReadWriteCloser) *HostilePeer {
	return &HostilePeer{conn: conn, drained: make(chan struct{})}
}

// Send writes frames in one Write. Version 0 in a frame means 1.
func (p *HostilePeer) Send(frames ...Frame) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	b := p.wbuf[:0]
	for _, f := range frames {
		if f.Version == 0 {
			f.Version = 1
		}
		b = f.AppendTo(b)
	}
	p.wbuf = b
	_, err := p.conn.Write(b)
	return err
}

// SendRaw writes bytes as they are.
func (p *HostilePeer) SendRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(b)
	return err
}

// Read returns the next frame the victim sent (Data payloads included).
func (p *HostilePeer) Read() (Frame, error) {
	var h [12]byte
	if _, err := io.ReadFull(p.conn, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Version: h[0], Type: h[1], Flags: binary.BigEndian.Uint16(h[2:]),
		StreamID: binary.BigEndian.Uint32(h[4:]), Length: binary.BigEndian.Uint32(h[8:])}
	if f.Type == TypeData && f.Length > 0 {
		f.Payload = make([]byte, f.Length)
		if _, err := io.ReadFull(p.conn, f.Payload); err != nil {
			return Frame{}, err
		}
	}
	return f, nil
}

// ReadUntil reads frames until match accepts one, returning it, or the
// read error.
func (p *HostilePeer) ReadUntil(match func(Frame) bool) (Frame, error) {
	for {
		f, err := p.Read()
		if err != nil || match(f) {
			return f, err
		}
	}
}

// Drain reads and discards everything the victim sends, in the
// background, until the connection closes. Not calling it (or Read)
// withholds reads: the victim's writes back up into the transport.
func (p *HostilePeer) Drain() {
	p.drainOnce.Do(func() {
		go func() {
			defer close(p.drained)
			io.Copy(io.Discard, p.conn)
		}()
	})
}

// Close closes the hostile end and waits for a Drain to stop.
func (p *HostilePeer) Close() error {
	err := p.conn.Close()
	p.drainOnce.Do(func() { close(p.drained) })
	<-p.drained
	return err
}

// Victim observes a session under attack.
type Victim struct {
	*core.Session
	goroutines int
	heap       uint64
}

// Observe records the baseline (goroutines, live heap) of sess.
func Observe(sess *core.Session) *Victim {
	v := &Victim{Session: sess}
	v.goroutines = runtime.NumGoroutine()
	v.heap = liveHeap()
	return v
}

// GoroutineGrowth is how many goroutines exist now beyond the baseline.
func (v *Victim) GoroutineGrowth() int { return runtime.NumGoroutine() - v.goroutines }

// HeapGrowth is how far the live heap grew beyond the baseline (after a
// GC), in bytes; negative if it shrank.
func (v *Victim) HeapGrowth() int64 { return int64(liveHeap()) - int64(v.heap) }

// Ended waits up to d for the session to end and returns its error (nil
// if it is still running).
func (v *Victim) Ended(d time.Duration) error {
	select {
	case <-v.Done():
		return v.Err()
	case <-time.After(d):
		return nil
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
