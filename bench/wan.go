package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netmux/netmux/transport"
)

// ---- wan: bulk streams over an emulated long, fat link ----

// wanScenario is one stream count over one of params.WANLinks.
func wanScenario(name string, link, streams int) scenario {
	metrics := []metric{
		{Key: "mibps", Label: "MiB/s"},
		{Key: "link_frac", Label: "of link"},
	}
	desc := "one stream writes write_size chunks non-stop through wan_links[%d]; bytes received in wan_measure after wan_warmup"
	if streams > 1 {
		desc = "wan_streams streams write write_size chunks non-stop through wan_links[%d], and another does rpc_size echo RPCs; bytes received in wan_measure after wan_warmup"
		metrics = append(metrics,
			metric{Key: "fair_dev", Label: "max dev from 1/n", Lower: true},
			metric{Key: "rpc_p50_ms", Label: "RPC p50 ms", Lower: true},
			metric{Key: "rpc_p99_ms", Label: "RPC p99 ms", Lower: true},
		)
	}
	metrics = append(metrics,
		metric{Key: "heap_mib", Label: "heap MiB", Lower: true},
		metric{Key: "heap_peak_mib", Label: "heap peak MiB", Lower: true},
	)
	return scenario{
		Name: name,
		Desc: fmt.Sprintf(desc, link) + "; heap is HeapInuse after a GC at the end of the window less before set-up, both ends, the link's buffers left out; " +
			"heap peak is the most HeapInuse (garbage included) sampled every heapSampleEvery from the first write to the end of the window, less the same",
		Metrics: metrics,
		optIn:   true,
		group:   "wan",
		muxes:   func(cfg *config) []mux { return cfg.wanMuxes },
		takes:   func(m mux) bool { _, ok := m.(wanMux); return ok },
		runMux: func(m mux, p params) (map[string]float64, error) {
			n := streams
			if n > 1 {
				n = p.WANStreams
			}
			return runWAN(m.(wanMux), p.WANLinks[link], n, p)
		},
	}
}

// defaultWANBases and defaultWANCarriers make the default wan muxes.
const (
	defaultWANBases    = "tcp,netmux,yamux,yamux-16m,smux-v1"
	defaultWANCarriers = "tcp,tls,ws"
)

// wanBases are the libraries the wan scenarios can run.
var wanBases = []string{"tcp", "netmux", "yamux", "yamux-16m", "smux-v1", "smux-v2"}

// wanMux is a mux whose pair is connected through an emulated link:
// netmux or a peer over one of the carriers, or the carrier alone (base
// "tcp": one carrier connection per stream).
type wanMux struct {
	base    string // one of wanBases
	carrier string // tcp, tls, ws or opaque
}

func (m wanMux) name() string {
	switch {
	case m.base == "tcp" && m.carrier == "tcp":
		return "tcp"
	case m.base == "tcp":
		return "bare+" + m.carrier
	case m.carrier == "tcp":
		return m.base
	}
	return m.base + "+" + m.carrier
}

// setup connects a pair directly, without a link.
func (m wanMux) setup() (sessionLike, sessionLike, error) {
	c, s, _, err := m.via(nil)
	return c, s, err
}

// parseWANMuxes makes a wanMux of every base over every carrier, carrier
// by carrier.
func parseWANMuxes(bases, carriers string) ([]mux, error) {
	var out []mux
	for _, c := range strings.Split(carriers, ",") {
		c = strings.TrimSpace(c)
		switch c {
		case "":
			continue
		case "tcp", "tls", "ws", "opaque":
		default:
			return nil, fmt.Errorf("unknown wan carrier %q (known: tcp, tls, ws, opaque)", c)
		}
		for _, b := range strings.Split(bases, ",") {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			known := false
			for _, k := range wanBases {
				known = known || k == b
			}
			if !known {
				return nil, fmt.Errorf("unknown wan mux %q (known: %s)", b, strings.Join(wanBases, ", "))
			}
			out = append(out, wanMux{base: b, carrier: c})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no wan muxes selected")
	}
	return out, nil
}

// netDialer dials plain TCP: the peers' and raw TCP's carrier.
type netDialer struct{}

func (netDialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	var d net.Dialer
	return rwc(d.DialContext(ctx, "tcp", addr))
}

// endpoints returns the carrier's listener and dialer: netmux's adapters
// for netmux and for TLS and WebSocket (peers get the same wrapped
// conns), plain net.Listen and net.Dial for the peers over TCP, as in the
// loopback scenarios.
func (m wanMux) endpoints() (transport.Listener, transport.Dialer, error) {
	if m.carrier == "opaque" {
		ln, d, err := carrierPair("tcp")
		return opaqueListener{ln}, opaqueDialer{d}, err
	}
	if m.carrier == "tcp" && m.base != "netmux" {
		ln, err := net.Listen("tcp", loopback)
		if err != nil {
			return nil, nil, err
		}
		return netListener{ln}, netDialer{}, nil
	}
	return carrierPair(m.carrier)
}

// throughLink returns the TCP address a link in front of the listener at
// addr must forward to, and what to dial instead of addr to go through
// the link at proxy (the same URL with the proxy's host for ws).
func throughLink(addr string) (target string, rewrite func(proxy string) string) {
	if u, err := url.Parse(addr); err == nil && (u.Scheme == "ws" || u.Scheme == "wss") {
		return u.Host, func(proxy string) string {
			v := *u
			v.Host = proxy
			return v.String()
		}
	}
	return addr, func(proxy string) string { return proxy }
}

// via connects a pair through a link of spec (directly if spec is nil).
// The caller closes the pair, then the link.
func (m wanMux) via(spec *linkSpec) (client, server sessionLike, lk *link, err error) {
	ln, d, err := m.endpoints()
	if err != nil {
		return nil, nil, nil, err
	}
	addr := ln.Addr().String()
	if spec != nil {
		target, rewrite := throughLink(addr)
		lk, err = newLink(target, *spec)
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		addr = rewrite(lk.Addr())
	}
	fail := func(err error) (sessionLike, sessionLike, *link, error) {
		if lk != nil {
			lk.Close()
		}
		return nil, nil, nil, err
	}
	if m.base == "tcp" {
		dial := func() (io.ReadWriteCloser, error) {
			ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
			defer cancel()
			return d.Dial(ctx, addr)
		}
		return &dialSide{dial: dial}, &listenSide{accept: ln.Accept, close: ln.Close}, lk, nil
	}
	if m.base == "netmux" {
		c, s, err := netmuxOver(ln, d, addr, m.name())
		if err != nil {
			return fail(err)
		}
		return c, s, lk, nil
	}
	cc, sc, err := connectOnce(ln, d, addr)
	ln.Close()
	if err != nil {
		return fail(err)
	}
	switch m.base {
	case "yamux":
		client, server, err = yamuxOver(cc, sc, yamuxConfig(0))
	case "yamux-16m":
		client, server, err = yamuxOver(cc, sc, yamuxConfig(16<<20))
	case "smux-v1":
		client, server, err = smuxOver(cc, sc, 1)
	case "smux-v2":
		client, server, err = smuxOver(cc, sc, 2)
	default:
		err = fmt.Errorf("unknown wan mux %q", m.base)
	}
	if err != nil {
		return fail(err)
	}
	return client, server, lk, nil
}

// connectOnce dials addr with d and accepts the connection on ln.
func connectOnce(ln transport.Listener, d transport.Dialer, addr string) (client, server io.ReadWriteCloser, err error) {
	type res struct {
		c   io.ReadWriteCloser
		err error
	}
	ch := make(chan res, 1)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	go func() {
		c, err := ln.Accept()
		// A TLS server conn shakes hands on its first Read; the client's
		// Dial waits for that, so run it here.
		if h, ok := c.(interface{ HandshakeContext(context.Context) error }); ok && err == nil {
			if err = h.HandshakeContext(ctx); err != nil {
				c.Close()
			}
		}
		ch <- res{c, err}
	}()
	client, err = d.Dial(ctx, addr)
	if err != nil {
		ln.Close() // ends the Accept
		<-ch
		return nil, nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			client.Close()
			return nil, nil, r.err
		}
		return client, r.c, nil
	case <-ctx.Done():
		client.Close()
		ln.Close()
		<-ch
		return nil, nil, fmt.Errorf("accept: %w", ctx.Err())
	}
}

// heapSampleEvery is how often the wan scenarios sample the heap for its
// peak.
const heapSampleEvery = 50 * time.Millisecond

// heapSampler samples the heap in use (HeapInuse: spans with objects in
// them, live or not yet swept) until stopped, and keeps the most it saw
// beyond a baseline, the link's own buffers left out. It reads
// runtime/metrics, which does not stop the world.
type heapSampler struct {
	stop    chan struct{}
	done    chan struct{}
	base    int64
	lk      *link // nil: none
	samples []metrics.Sample
	mu      sync.Mutex // guards samples and peak
	peak    int64
}

// heapMetrics are the runtime/metrics samples whose sum is HeapInuse.
var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

// heapInuseNow reads HeapInuse without a collection.
func heapInuseNow(samples []metrics.Sample) int64 {
	metrics.Read(samples)
	var n int64
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			n += int64(s.Value.Uint64())
		}
	}
	return n
}

// sampleHeap starts sampling; base is HeapInuse before set-up, lk the
// link whose buffers to leave out (nil: none).
func sampleHeap(base uint64, lk *link) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{}), base: int64(base), lk: lk,
		samples: make([]metrics.Sample, len(heapMetrics))}
	for i, name := range heapMetrics {
		h.samples[i].Name = name
	}
	go func() {
		defer close(h.done)
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-t.C:
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

// sample takes one sample.
func (h *heapSampler) sample() {
	var held int64
	if h.lk != nil {
		held = h.lk.heldBytes()
	}
	h.mu.Lock()
	h.peak = max(h.peak, heapInuseNow(h.samples)-h.base-held)
	h.mu.Unlock()
}

// end stops sampling and returns the peak in bytes.
func (h *heapSampler) end() int64 {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

// heapInuse returns HeapInuse after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// runWAN connects a pair of m through a link of spec, writes non-stop on
// n streams (and with n > 1 runs echo RPCs on one more) and measures the
// bytes received in p.WANMeasure after p.WANWarmup. A run that takes
// longer than p.RunTimeout fails; its sessions and link are closed to
// unblock it.
func runWAN(m wanMux, spec linkSpec, n int, p params) (map[string]float64, error) {
	h0 := heapInuse()
	c, s, lk, err := m.via(&spec)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	type res struct {
		m   map[string]float64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := wanRun(c, s, lk, h0, spec, n, p)
		ch <- res{r, err}
	}()
	var r res
	select {
	case r = <-ch:
	case <-time.After(p.RunTimeout):
		lk.Close()
		closePair(c, s)
		select {
		case r = <-ch:
		case <-time.After(10 * time.Second):
		}
		return nil, fmt.Errorf("timed out after %v (last error: %v)", p.RunTimeout, r.err)
	}
	if cerr := closePair(c, s); cerr != nil && r.err == nil {
		r.err = fmt.Errorf("close: %w", cerr)
	}
	lk.Close()
	return r.m, r.err
}

// Stream tags: the first two bytes of a wan stream say what it is.
const (
	tagBulk = 'B' // then the stream's index
	tagRPC  = 'R' // then 0
)

func wanRun(c, s sessionLike, lk *link, h0 uint64, spec linkSpec, n int, p params) (map[string]float64, error) {
	var e errs
	withRPC := n > 1
	accepts := n
	if withRPC {
		accepts++
	}
	recvd := make([]atomic.Int64, n)
	served := acceptEach(s, accepts, &e, func(_ int, st io.ReadWriteCloser) {
		var tag [2]byte
		if _, err := io.ReadFull(st, tag[:]); err != nil {
			e.setf("read tag: %w", err)
			st.Close()
			return
		}
		switch {
		case tag[0] == tagRPC:
			echo(st, p.RPCSize, &e)
		case tag[0] == tagBulk && int(tag[1]) < n:
			defer st.Close()
			buf := make([]byte, 64<<10)
			for {
				k, err := st.Read(buf)
				recvd[tag[1]].Add(int64(k))
				if err == io.EOF {
					return
				}
				if err != nil {
					e.setf("stream %d: read: %w", tag[1], err)
					return
				}
			}
		default:
			e.setf("unexpected stream tag %q", tag[:])
			st.Close()
		}
	})

	var rpcSt io.ReadWriteCloser
	if withRPC {
		st, err := c.Open()
		if err != nil {
			return nil, fmt.Errorf("open the rpc stream: %w", err)
		}
		rpcSt = st
		defer rpcSt.Close()
		if _, err := st.Write([]byte{tagRPC, 0}); err != nil {
			return nil, fmt.Errorf("write the rpc tag: %w", err)
		}
		req, resp := pattern(p.RPCSize), make([]byte, p.RPCSize)
		if err := roundTrip(st, req, resp, 0); err != nil {
			return nil, err
		}
	}
	streams, err := openAll(c, n)
	if err != nil {
		return nil, err
	}
	var stop atomic.Bool
	sampler := sampleHeap(h0, lk)
	sent := make([]int64, n)
	var writers sync.WaitGroup
	for i, st := range streams {
		writers.Go(func() {
			defer st.Close()
			if _, err := st.Write([]byte{tagBulk, byte(i)}); err != nil {
				e.setf("stream %d: write tag: %w", i, err)
				return
			}
			buf := pattern(p.WriteSize)
			for !stop.Load() {
				k, err := st.Write(buf)
				sent[i] += int64(k)
				if err != nil {
					e.setf("stream %d: write after %d bytes: %w", i, sent[i], err)
					return
				}
			}
		})
	}

	time.Sleep(p.WANWarmup) // the warm-up is part of what is measured, not a wait for an event
	snap := func() []int64 {
		v := make([]int64, n)
		for i := range recvd {
			v[i] = recvd[i].Load()
		}
		return v
	}
	in0, t0 := snap(), time.Now()
	var lat latencies
	rpcDone := make(chan error, 1)
	if withRPC {
		go func() {
			var err error
			lat, err = rpcLoop(rpcSt, p.RPCSize, t0.Add(p.WANMeasure), 1)
			rpcDone <- err
		}()
	}
	time.Sleep(p.WANMeasure / 2)
	inHalf := snap()
	time.Sleep(p.WANMeasure - p.WANMeasure/2)
	in1, elapsed := snap(), time.Since(t0)
	peak := sampler.end()
	heap := int64(heapInuse()) - int64(h0) - lk.heldBytes()
	if withRPC {
		e.set(<-rpcDone)
		rpcSt.Close()
	}
	stop.Store(true)
	writers.Wait()
	served()
	if err := e.get(); err != nil {
		return nil, err
	}
	var total int64
	for i := range n {
		if got := recvd[i].Load(); got != sent[i] {
			return nil, fmt.Errorf("stream %d: received %d bytes, sent %d", i, got, sent[i])
		}
		total += in1[i] - in0[i]
	}
	if total == 0 {
		return nil, errors.New("nothing arrived in the measured window")
	}
	mibps := mibPerSec(total, elapsed)
	out := map[string]float64{
		"mibps":     mibps,
		"link_frac": mibps / spec.mibps(),
		"heap_mib":  float64(heap) / (1 << 20),

		"heap_peak_mib": float64(peak) / (1 << 20),
	}
	if withRPC {
		shares, dev := fairShares(in0, in1)
		for i, share := range shares {
			out[fmt.Sprintf("share%d", i)] = share // in the JSON report, not the table
		}
		out["fair_dev"] = dev
		// The same over the second half of the window alone: what is
		// left of the streams' start-up by then (in the JSON report).
		_, out["fair_dev_late"] = fairShares(inHalf, in1)
		out["rpc_p50_ms"] = micros(percentile(lat, 0.50)) / 1000
		out["rpc_p99_ms"] = micros(percentile(lat, 0.99)) / 1000
	}
	return out, nil
}

// fairShares returns each stream's share of the bytes received between
// the counts from and to, and the largest deviation of a share from an
// equal one, relative to it (0: all equal; 0 if nothing arrived).
func fairShares(from, to []int64) (shares []float64, dev float64) {
	var total int64
	for i := range to {
		total += to[i] - from[i]
	}
	if total <= 0 {
		return make([]float64, len(to)), 0
	}
	shares = make([]float64, len(to))
	for i := range to {
		shares[i] = float64(to[i]-from[i]) / float64(total)
		dev = math.Max(dev, math.Abs(shares[i]*float64(len(to))-1))
	}
	return shares, dev
}

// opaqueConn hides a carrier connection behind Read, Write and Close, as
// a struct embedding it would: core cannot see the TCP socket under it
// (no TCP_INFO, no direct socket I/O), as with TLS or WebSocket, but
// without their framing. Issue 14 measured netmux over such a carrier.
type opaqueConn struct{ c io.ReadWriteCloser }

func (o opaqueConn) Read(p []byte) (int, error)  { return o.c.Read(p) }
func (o opaqueConn) Write(p []byte) (int, error) { return o.c.Write(p) }
func (o opaqueConn) Close() error                { return o.c.Close() }

type opaqueListener struct{ transport.Listener }

func (l opaqueListener) Accept() (io.ReadWriteCloser, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return opaqueConn{c}, nil
}

type opaqueDialer struct{ d transport.Dialer }

func (d opaqueDialer) Dial(ctx context.Context, addr string) (io.ReadWriteCloser, error) {
	c, err := d.d.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return opaqueConn{c}, nil
}
