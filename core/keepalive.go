package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pinger tracks outstanding pings by their opaque value, and the minimum
// round-trip time that window auto-tuning sizes windows by.
type pinger struct {
	mu      sync.Mutex
	seq     uint32
	waiting map[uint32]*pingWait

	// Windowed minimum RTT, guarded by mu: the smallest sample of the
	// last minRTTWindow. A single sample is inflated by whatever it queued
	// behind (the startup ping often by 10x, as both ends start their
	// goroutines); a window sized by an inflated RTT fills the carrier's
	// buffers with data every other stream's frames then wait behind.
	minRTT  time.Duration
	minAt   time.Time
	samples int // samples so far, counted up to Session.warmup()

	min      atomic.Int64 // minRTT in nanoseconds as published for tuning (addSample), for lock-free reads
	lastAt   atomic.Int64 // when the last sample arrived (monoNow)
	sampling atomic.Bool  // an RTT-sampling ping is outstanding
}

// minRTTWindow is how long a minimum RTT sample stays valid: long enough
// that samples inflated by queueing lose to an earlier quiet one, short
// enough to follow a path that really changed.
const minRTTWindow = 30 * time.Second

// warmupSamples is how many pings a netmux session sends back to back
// when it starts: the first times both ends starting up, often 10x the
// path's RTT; the later ones time the path before data queues on it.
const warmupSamples = 4

// earlyRTT is the least RTT sample that tunes windows before the warm-up
// pings are all answered (see addSample). On a loaded host, a loopback
// session's first pings took over a millisecond, and windows grown by
// them stay grown.
const earlyRTT = 10 * time.Millisecond

// rttSampleEvery is the most often a reading stream asks for a fresh
// RTT sample (one Ping frame).
const rttSampleEvery = time.Second

type pingWait struct {
	sent time.Time
	done chan struct{} // nil for internal pings
	rtt  time.Duration
}

func (p *pinger) init() { p.waiting = make(map[uint32]*pingWait) }

func (p *pinger) add(w *pingWait) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	w.sent = time.Now()
	p.waiting[p.seq] = w
	return p.seq
}

func (p *pinger) remove(id uint32) {
	p.mu.Lock()
	delete(p.waiting, id)
	p.mu.Unlock()
}

// pong completes the ping with value id; unknown values are ignored.
func (p *pinger) pong(s *Session, id uint32) {
	p.mu.Lock()
	w := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if w == nil {
		return
	}
	now := time.Now()
	rtt := now.Sub(w.sent)
	s.updateRTT(rtt)
	warm := p.addSample(rtt, now, s.warmup())
	if w.done == nil {
		p.sampling.Store(false)
	}
	if warm && s.warmupPays(rtt) {
		s.sendPing() // the next warm-up sample
	}
	if w.done != nil {
		w.rtt = rtt
		close(w.done)
	}
}

// addSample folds an RTT sample into the windowed minimum. It reports
// true while the session is warming up: the caller then sends the next
// warm-up ping.
//
// The minimum is published for tuning once the warm-up is over, or
// before if it is at least earlyRTT: what the first samples add (both
// ends starting their goroutines) is a few milliseconds at most, small
// next to a long path's RTT, and waiting out the warm-up there would cost
// four round trips (800 ms at 200 ms) before any window grows.
func (p *pinger) addSample(rtt time.Duration, now time.Time, warmup int) (warm bool) {
	rtt = max(rtt, 1)
	p.mu.Lock()
	if p.minRTT == 0 || rtt <= p.minRTT || now.Sub(p.minAt) > minRTTWindow {
		p.minRTT, p.minAt = rtt, now
	}
	if p.samples < warmup {
		p.samples++
	}
	warm = p.samples < warmup
	switch {
	case !warm || p.minRTT >= earlyRTT:
		p.min.Store(int64(p.minRTT))
	default:
		p.min.Store(0) // no tuning on inflated first samples of a short path
	}
	p.mu.Unlock()
	p.lastAt.Store(monoNow())
	return warm
}

// tuningRTT is the round-trip time window auto-tuning uses: the
// end-to-end RTT between the two sessions, the recent minimum of the ping
// samples, where it exceeds the carrier's own RTT (the first hop's,
// pathrtt.go) by more than hostSlack; else the carrier's, which is
// sharper on a direct path; 0 (no growth) while neither is known.
func (s *Session) tuningRTT() time.Duration {
	k := time.Duration(s.kernelRTT.Load())
	p := time.Duration(s.pinger.min.Load())
	if k == 0 || p >= k+hostSlack {
		return p
	}
	return k
}

// pingsForRTT reports whether the session pings to learn its RTT beyond
// the preface ping (warm-up and refresh pings): over every carrier, since
// only pings see past the first hop, but only where the dialect allows
// (not to a yamux peer: yamux drops the data it has not read yet when one
// of its writes fails, so every reply it owes is a chance to lose data at
// close).
func (s *Session) pingsForRTT() bool { return s.d.rttPings }

// warmupPays reports whether the next warm-up ping is worth sending
// after sample: not where the carrier's own RTT (the first hop's) explains
// it, on a direct TCP path, where the kernel's RTT tunes and pings only
// look for a proxy on the way. A session then pings at start as it did
// before pings looked past the first hop, and sets up as fast.
func (s *Session) warmupPays(sample time.Duration) bool {
	k := time.Duration(s.kernelRTT.Load())
	return k == 0 || sample >= k+hostSlack
}

// warmup is how many samples the session warms up with.
func (s *Session) warmup() int {
	if !s.pingsForRTT() {
		return 1
	}
	return warmupSamples
}

// refreshRTT re-reads the carrier's RTT (at most every kernelRTTEvery),
// and sends a ping when the last RTT sample is older than rttSampleEvery
// and none is on its way, so a session moving data keeps its minimum
// current. Readers returning credit call it.
func (s *Session) refreshRTT() {
	if s.kernelRTT.Load() > 0 {
		s.refreshKernelRTT()
	}
	if !s.pingsForRTT() {
		return
	}
	p := &s.pinger
	if monoNow()-p.lastAt.Load() > int64(rttSampleEvery) && p.sampling.CompareAndSwap(false, true) {
		s.sendPing()
	}
}

func (p *pinger) failAll() {
	p.mu.Lock()
	clear(p.waiting)
	p.mu.Unlock()
}

// sendPing queues an internal ping (keepalive, RTT sampling): a frame
// this side originates, one at a time, so it never waits (queueLocal).
func (s *Session) sendPing() {
	id := s.pinger.add(&pingWait{})
	s.queueLocal(frameHeader{typ: framePing, flags: flagSYN, length: id}, nil)
}

// Ping sends a ping and returns the round-trip time when the reply
// arrives. Pings go ahead of queued data. While the control queue is full
// (the carrier is not taking writes) Ping waits for room until ctx ends.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	w := &pingWait{done: make(chan struct{})}
	id := s.pinger.add(w)
	err := s.enqueueCtrl(frameHeader{typ: framePing, flags: flagSYN, length: id}, ctx.Done())
	s.failFlood(err)
	if err != nil {
		s.pinger.remove(id)
		if err == errCanceled {
			err = ctx.Err()
		}
		return 0, err
	}
	s.wakeWriter()
	select {
	case <-w.done:
		return w.rtt, nil
	case <-ctx.Done():
		s.pinger.remove(id)
		return 0, ctx.Err()
	case <-s.dead:
		return 0, s.err
	}
}

// updateRTT folds a sample into the smoothed RTT (weight 1/8).
func (s *Session) updateRTT(sample time.Duration) {
	for {
		old := s.rtt.Load()
		next := int64(sample)
		if old != 0 {
			next = old - old/8 + int64(sample)/8
		}
		if s.rtt.CompareAndSwap(old, next) {
			return
		}
	}
}

func (s *Session) smoothedRTT() time.Duration { return time.Duration(s.rtt.Load()) }

// keepalive pings every KeepAliveInterval and ends the session when
// nothing at all has arrived for KeepAliveTimeout. Any frame counts as a
// sign of life, so a peer busy sending data never trips it. It runs on a
// timer, not a goroutine of its own (an idle session runs only the reader
// and the writer): each tick is a time.AfterFunc callback that never
// blocks, and terminate stops the timer; Close waits for a tick in
// progress, so nothing the session started outlives Close.
type keepalive struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool           // no tick acts any more
	ticking sync.WaitGroup // a tick in progress (added to under mu while !stopped)

	// Owned by the tick (under mu).
	lastCount          uint64    // stats.framesIn at the last change
	lastSeen, lastPing time.Time // when the count last changed; the last ping
}

// startKeepalive arms the first tick, unless the session has already
// ended (the reader started first and may have failed).
func (s *Session) startKeepalive() {
	k := &s.keepalive
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	k.lastCount, k.lastSeen = s.stats.framesIn.Load(), time.Now()
	k.timer = time.AfterFunc(s.cfg.KeepAliveInterval, s.keepaliveTick)
}

// keepaliveTick is one keepalive tick: it ends a silent session, pings
// once per interval and re-arms for min(interval, timeout - silent).
// Silence is measured from the tick that saw the last change.
func (s *Session) keepaliveTick() {
	k := &s.keepalive
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.ticking.Add(1)
	defer k.ticking.Done()
	interval, timeout := s.cfg.KeepAliveInterval, s.cfg.KeepAliveTimeout
	now := time.Now()
	if c := s.stats.framesIn.Load(); c != k.lastCount {
		k.lastCount, k.lastSeen = c, now
	}
	silent := now.Sub(k.lastSeen)
	if silent >= timeout {
		k.mu.Unlock()
		s.log.Warn("netmux: keepalive timeout", "silent", silent, "remote", s.RemoteAddr().String())
		s.terminate(ErrKeepaliveTimeout)
		return
	}
	ping := now.Sub(k.lastPing) >= interval
	if ping {
		k.lastPing = now
	}
	k.timer.Reset(min(interval, timeout-silent))
	k.mu.Unlock()
	if ping {
		s.sendPing()
	}
}

// stopKeepalive stops the ticks (terminate calls it before dead is
// closed); waitKeepalive then waits for one in progress (Close).
func (s *Session) stopKeepalive() {
	k := &s.keepalive
	k.mu.Lock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
	k.mu.Unlock()
}

func (s *Session) waitKeepalive() { s.keepalive.ticking.Wait() }
