package core

import (
	"context"
	"sync"
	"time"
)

// pinger tracks outstanding pings by their opaque value.
type pinger struct {
	mu      sync.Mutex
	seq     uint32
	waiting map[uint32]*pingWait
}

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
	rtt := time.Since(w.sent)
	s.updateRTT(rtt)
	if w.done != nil {
		w.rtt = rtt
		close(w.done)
	}
}

func (p *pinger) failAll() {
	p.mu.Lock()
	clear(p.waiting)
	p.mu.Unlock()
}

// sendPing queues a ping; w (nil for an internal ping) is completed by
// the reply.
func (s *Session) sendPing(w *pingWait) (uint32, error) {
	if w == nil {
		w = &pingWait{}
	}
	id := s.pinger.add(w)
	if err := s.queueCtrl(frameHeader{typ: framePing, flags: flagSYN, length: id}, nil); err != nil {
		s.pinger.remove(id)
		return 0, err
	}
	return id, nil
}

// Ping sends a ping and returns the round-trip time when the reply
// arrives. Pings go ahead of queued data.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	w := &pingWait{done: make(chan struct{})}
	id, err := s.sendPing(w)
	if err != nil {
		return 0, err
	}
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

// keepaliveLoop pings every KeepAliveInterval and ends the session when
// nothing at all has arrived for KeepAliveTimeout. Any frame counts as a
// sign of life, so a peer busy sending data never trips it.
func (s *Session) keepaliveLoop() {
	defer s.wg.Done()
	interval, timeout := s.cfg.KeepAliveInterval, s.cfg.KeepAliveTimeout
	lastCount := s.stats.framesIn.Load()
	lastSeen, lastPing := time.Now(), time.Time{}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.dead:
			return
		}
		now := time.Now()
		if c := s.stats.framesIn.Load(); c != lastCount {
			lastCount, lastSeen = c, now
		}
		silent := now.Sub(lastSeen)
		if silent >= timeout {
			s.log.Warn("netmux: keepalive timeout", "silent", silent, "remote", s.RemoteAddr().String())
			s.terminate(ErrKeepaliveTimeout)
			return
		}
		if now.Sub(lastPing) >= interval {
			if _, err := s.sendPing(nil); err != nil {
				return // the session is failing
			}
			lastPing = now
		}
		t.Reset(min(interval, timeout-silent))
	}
}
