package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// params are the sizes and durations of the scenarios.
type params struct {
	WriteSize     int           `json:"write_size"`      // bulk write size
	Bulk1Bytes    int64         `json:"bulk1_bytes"`     // bulk1: bytes on the one stream
	Bulk64Streams int           `json:"bulk64_streams"`  // bulk64: streams
	Bulk64Bytes   int64         `json:"bulk64_bytes"`    // bulk64: bytes per stream
	RPCStreams    int           `json:"rpc_streams"`     // rpc: concurrent closed loops
	RPCSize       int           `json:"rpc_size"`        // rpc and fair: request and echo size
	RPCDuration   time.Duration `json:"rpc_duration_ns"` // rpc and fair: measured time
	FairWarmup    time.Duration `json:"fair_warmup_ns"`  // fair: bulk runs alone first
	OpenCount     int           `json:"open_count"`      // open: streams
	IdleStreams   int           `json:"idle_streams"`    // idle: streams held
	IdleSettle    time.Duration `json:"idle_settle_ns"`  // idle: pause before measuring
	AllocRounds   int           `json:"alloc_rounds"`    // allocs: measured roundtrips
	AllocSize     int           `json:"alloc_size"`      // allocs: message size
	RunTimeout    time.Duration `json:"run_timeout_ns"`  // a run taking longer fails

	WANLinks   [2]linkSpec   `json:"wan_links"`      // wan50x*, wan200x*: the two emulated links
	WANStreams int           `json:"wan_streams"`    // wan*x8: bulk streams
	WANWarmup  time.Duration `json:"wan_warmup_ns"`  // wan: writing before the measured window
	WANMeasure time.Duration `json:"wan_measure_ns"` // wan: the measured window

	SessionPairs   int           `json:"session_pairs"`      // sessions: idle pairs held
	SessionDialers int           `json:"session_dialers"`    // sessions: dialing at once
	SessionsSettle time.Duration `json:"sessions_settle_ns"` // sessions: idle before measuring
}

// wanLink is a link of rtt and rate (bytes/s) whose queue holds 20 ms
// of its rate.
func wanLink(rtt time.Duration, rate float64) linkSpec {
	return linkSpec{Rate: rate, Delay: rtt / 2, Queue: int(rate / 50)}
}

func fullParams() params {
	return params{
		WriteSize:     32 << 10,
		Bulk1Bytes:    256 << 20,
		Bulk64Streams: 64,
		Bulk64Bytes:   8 << 20,
		RPCStreams:    100,
		RPCSize:       64,
		RPCDuration:   3 * time.Second,
		FairWarmup:    200 * time.Millisecond,
		OpenCount:     10000,
		IdleStreams:   1000,
		IdleSettle:    200 * time.Millisecond,
		AllocRounds:   20000,
		AllocSize:     4 << 10,
		RunTimeout:    3 * time.Minute,
		WANLinks: [2]linkSpec{
			wanLink(50*time.Millisecond, 50<<20),
			wanLink(200*time.Millisecond, 100<<20),
		},
		WANStreams:     8,
		WANWarmup:      time.Second,
		WANMeasure:     4 * time.Second,
		SessionPairs:   10000,
		SessionDialers: 16,
		SessionsSettle: 500 * time.Millisecond,
	}
}

// shortParams are tiny sizes: a smoke run that checks every mux moves
// the bytes it should, not a measurement.
func shortParams() params {
	return params{
		WriteSize:     32 << 10,
		Bulk1Bytes:    1 << 20,
		Bulk64Streams: 4,
		Bulk64Bytes:   1 << 20,
		RPCStreams:    8,
		RPCSize:       64,
		RPCDuration:   200 * time.Millisecond,
		FairWarmup:    50 * time.Millisecond,
		OpenCount:     100,
		IdleStreams:   50,
		IdleSettle:    20 * time.Millisecond,
		AllocRounds:   200,
		AllocSize:     4 << 10,
		RunTimeout:    time.Minute,
		// Short links, so that a smoke run takes seconds.
		WANLinks: [2]linkSpec{
			wanLink(10*time.Millisecond, 16<<20),
			wanLink(20*time.Millisecond, 32<<20),
		},
		WANStreams:     4,
		WANWarmup:      100 * time.Millisecond,
		WANMeasure:     300 * time.Millisecond,
		SessionPairs:   50,
		SessionDialers: 4,
		SessionsSettle: 20 * time.Millisecond,
	}
}

// metric describes one number a scenario reports.
type metric struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Lower bool   `json:"lower_is_better"`
}

// scenario is one workload, run the same way over every mux.
type scenario struct {
	Name    string
	Desc    string
	Metrics []metric // the first is the headline
	run     func(c, s sessionLike, p params) (map[string]float64, error)

	// optIn scenarios run only when named (or their group is), not
	// under "all": they are long or need a lot of memory.
	optIn bool
	// group is a name that selects every scenario carrying it ("wan").
	group string
	// muxes, if set, replaces the -muxes list for this scenario.
	muxes func(cfg *config) []mux
	// runMux, if set, runs the scenario on the mux itself in place of
	// run on a pair from m.setup (the scenario makes its own pairs).
	runMux func(m mux, p params) (map[string]float64, error)
	// takes, if set, says which muxes can run the scenario at all.
	takes func(m mux) bool
}

// takesPart says whether m runs sc.
func takesPart(m mux, sc scenario) bool {
	return runsScenario(m, sc.Name) && (sc.takes == nil || sc.takes(m))
}

// muxesFor is the muxes that run sc under cfg.
func muxesFor(cfg *config, sc scenario) []mux {
	all := cfg.muxes
	if sc.muxes != nil {
		all = sc.muxes(cfg)
	}
	var out []mux
	for _, m := range all {
		if takesPart(m, sc) {
			out = append(out, m)
		}
	}
	return out
}

var scenarios = []scenario{
	{
		Name:    "bulk1",
		Desc:    "one stream, bulk1_bytes in write_size writes, client to server",
		Metrics: []metric{{Key: "mibps", Label: "MiB/s"}},
		run:     runBulk1,
	},
	{
		Name:    "bulk64",
		Desc:    "bulk64_streams streams x bulk64_bytes each, concurrently",
		Metrics: []metric{{Key: "mibps", Label: "aggregate MiB/s"}},
		run:     runBulk64,
	},
	{
		Name: "rpc",
		Desc: "rpc_streams streams, each a closed loop of rpc_size-byte request and echo, for rpc_duration",
		Metrics: []metric{
			{Key: "ops", Label: "ops/s"},
			{Key: "p50_us", Label: "p50 µs", Lower: true},
			{Key: "p99_us", Label: "p99 µs", Lower: true},
		},
		run: runRPC,
	},
	{
		Name: "fair",
		Desc: "one stream sends bulk non-stop while another does rpc_size-byte echo RPCs for rpc_duration",
		Metrics: []metric{
			{Key: "p99_us", Label: "RPC p99 µs", Lower: true},
			{Key: "p50_us", Label: "RPC p50 µs", Lower: true},
			{Key: "ops", Label: "RPC ops/s"},
			{Key: "bulk_mibps", Label: "bulk MiB/s"},
		},
		run: runFair,
	},
	{
		Name:    "open",
		Desc:    "open_count x (open, write 1 B, close) in a plain loop; the peer accepts, reads to EOF, closes",
		Metrics: []metric{{Key: "streams_per_sec", Label: "streams/s"}},
		run:     runOpen,
	},
	{
		Name: "idle",
		Desc: "idle_streams streams opened at once by as many goroutines (1 B written and read on each) and held idle; HeapAlloc delta after GC and goroutine delta, both ends",
		Metrics: []metric{
			{Key: "heap_per_stream", Label: "heap B/stream", Lower: true},
			{Key: "goroutines_per_stream", Label: "goroutines/stream", Lower: true},
		},
		run: runIdle,
	},
	{
		Name: "allocs",
		Desc: "alloc_rounds roundtrips of an alloc_size write and its echo on one stream (process-wide MemStats deltas)",
		Metrics: []metric{
			{Key: "allocs_per_op", Label: "allocs/op", Lower: true},
			{Key: "bytes_per_op", Label: "B/op", Lower: true},
			{Key: "us_per_op", Label: "µs/op", Lower: true},
		},
		run: runAllocs,
	},
	wanScenario("wan50x1", 0, 1),
	wanScenario("wan50x8", 0, 8),
	wanScenario("wan200x1", 1, 1),
	wanScenario("wan200x8", 1, 8),
	sessionsScenario,
}

// groupScenarios returns the scenarios of a group ("wan"), or nil.
func groupScenarios(group string) []scenario {
	var out []scenario
	for _, sc := range scenarios {
		if sc.group == group {
			out = append(out, sc)
		}
	}
	return out
}

func findScenario(name string) (scenario, bool) {
	for _, sc := range scenarios {
		if sc.Name == name {
			return sc, true
		}
	}
	return scenario{}, false
}

// runOnce connects a fresh pair over m, runs sc on it and closes the pair.
// A run that takes longer than p.RunTimeout fails; its sessions are closed
// to unblock it.
func runOnce(m mux, sc scenario, p params) (map[string]float64, error) {
	if sc.runMux != nil {
		return sc.runMux(m, p)
	}
	c, s, err := m.setup()
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	type res struct {
		m   map[string]float64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := sc.run(c, s, p)
		ch <- res{r, err}
	}()
	var r res
	select {
	case r = <-ch:
	case <-time.After(p.RunTimeout):
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
	return r.m, r.err
}

// closePair closes both ends concurrently (a graceful close may wait for
// the peer) and waits at most 15 s.
func closePair(c, s sessionLike) error {
	var e errs
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); e.set(c.Close()) }()
		go func() { defer wg.Done(); e.set(s.Close()) }()
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return e.get()
	case <-time.After(15 * time.Second):
		return errors.New("sessions did not close within 15 s")
	}
}

// errs keeps the first error reported by any goroutine.
type errs struct {
	mu  sync.Mutex
	err error
}

func (e *errs) set(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errs) setf(format string, args ...any) { e.set(fmt.Errorf(format, args...)) }

func (e *errs) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// pattern returns n bytes of a repeating, non-zero pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// openAll opens n streams on c, closing those already open on failure.
func openAll(c sessionLike, n int) ([]io.ReadWriteCloser, error) {
	out := make([]io.ReadWriteCloser, 0, n)
	for range n {
		st, err := c.Open()
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("open stream %d: %w", len(out), err)
		}
		out = append(out, st)
	}
	return out, nil
}

// ---- bulk ----

func runBulk1(c, s sessionLike, p params) (map[string]float64, error) {
	n, d, err := bulk(c, s, 1, p.Bulk1Bytes, p.WriteSize)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"mibps": mibPerSec(n, d)}, nil
}

func runBulk64(c, s sessionLike, p params) (map[string]float64, error) {
	n, d, err := bulk(c, s, p.Bulk64Streams, p.Bulk64Bytes, p.WriteSize)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"mibps": mibPerSec(n, d)}, nil
}

// bulk sends size bytes on each of n streams at once and returns the
// bytes received and the time from the first write until the receiver
// held the last byte. Each receiver checks it got exactly size bytes and
// then io.EOF (on a carrier that signals no close, only the size).
func bulk(c, s sessionLike, n int, size int64, wsize int) (int64, time.Duration, error) {
	var e errs
	noEOF := signalsNoEOF(s)
	doneAt := make([]time.Time, n)
	var received atomic.Int64
	readersDone := acceptEach(s, n, &e, func(i int, st io.ReadWriteCloser) {
		defer st.Close()
		buf := make([]byte, 32<<10)
		var got int64
		for {
			k, err := st.Read(buf)
			got += int64(k)
			if got >= size && doneAt[i].IsZero() {
				doneAt[i] = time.Now()
				if noEOF && err == nil {
					break
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				e.setf("read after %d of %d bytes: %w", got, size, err)
				break
			}
		}
		received.Add(got)
		if got != size {
			e.setf("stream received %d bytes, want %d", got, size)
		}
	})

	streams, err := openAll(c, n)
	if err != nil {
		return 0, 0, err
	}
	buf := pattern(wsize)
	start := time.Now()
	var writers sync.WaitGroup
	for _, st := range streams {
		writers.Add(1)
		go func() {
			defer writers.Done()
			defer st.Close()
			for sent := int64(0); sent < size; {
				k, err := st.Write(buf[:min(int64(len(buf)), size-sent)])
				sent += int64(k)
				if err != nil {
					e.setf("write after %d of %d bytes: %w", sent, size, err)
					return
				}
			}
		}()
	}
	writers.Wait()
	readersDone()
	if err := e.get(); err != nil {
		return 0, 0, err
	}
	end := start
	for _, t := range doneAt {
		if t.After(end) {
			end = t
		}
	}
	if got, want := received.Load(), int64(n)*size; got != want {
		return 0, 0, fmt.Errorf("received %d bytes in all, want %d", got, want)
	}
	return received.Load(), end.Sub(start), nil
}

// ---- rpc ----

// echoServer accepts n streams on s and echoes size-byte messages on each
// until the peer closes it. wait returns once every stream is done.
func echoServer(s sessionLike, n, size int, e *errs) (wait func()) {
	return acceptEach(s, n, e, func(_ int, st io.ReadWriteCloser) { echo(st, size, e) })
}

// acceptEach accepts n streams on s and runs handle on each in its own
// goroutine. wait returns once all n were accepted (or Accept failed, which
// is recorded in e) and every handle has returned.
func acceptEach(s sessionLike, n int, e *errs, handle func(i int, st io.ReadWriteCloser)) (wait func()) {
	var wg sync.WaitGroup
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for i := range n {
			st, err := s.Accept()
			if err != nil {
				e.setf("accept stream %d: %w", i, err)
				return
			}
			wg.Go(func() { handle(i, st) })
		}
	}()
	return func() {
		<-accepted
		wg.Wait()
	}
}

// echo echoes size-byte messages on st until io.EOF, then closes it.
func echo(st io.ReadWriteCloser, size int, e *errs) {
	defer st.Close()
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(st, buf); err != nil {
			if err != io.EOF {
				e.setf("echo read: %w", err)
			}
			return
		}
		if _, err := st.Write(buf); err != nil {
			e.setf("echo write: %w", err)
			return
		}
	}
}

// roundTrip sends req (stamped with seq) on st and checks the echo in
// resp.
func roundTrip(st io.ReadWriter, req, resp []byte, seq uint64) error {
	binary.LittleEndian.PutUint64(req, seq)
	if _, err := st.Write(req); err != nil {
		return fmt.Errorf("request %d: %w", seq, err)
	}
	if _, err := io.ReadFull(st, resp); err != nil {
		return fmt.Errorf("echo %d: %w", seq, err)
	}
	if !bytes.Equal(req, resp) {
		return fmt.Errorf("echo %d does not match its request", seq)
	}
	return nil
}

// rpcLoop runs closed-loop roundtrips on st until deadline and returns
// their latencies.
func rpcLoop(st io.ReadWriter, size int, deadline time.Time, seq uint64) (latencies, error) {
	req, resp := pattern(size), make([]byte, size)
	lat := make(latencies, 0, 4096)
	for {
		t0 := time.Now()
		if err := roundTrip(st, req, resp, seq); err != nil {
			return lat, err
		}
		t1 := time.Now()
		lat = append(lat, t1.Sub(t0))
		seq++
		if !t1.Before(deadline) {
			return lat, nil
		}
	}
}

func runRPC(c, s sessionLike, p params) (map[string]float64, error) {
	var e errs
	wait := echoServer(s, p.RPCStreams, p.RPCSize, &e)
	streams, err := openAll(c, p.RPCStreams)
	if err != nil {
		return nil, err
	}
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var deadline time.Time
	all := make([]latencies, len(streams))
	for i, st := range streams {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			defer st.Close()
			req, resp := pattern(p.RPCSize), make([]byte, p.RPCSize)
			err := roundTrip(st, req, resp, uint64(i)<<32) // warm-up: the peer has accepted
			ready.Done()
			if err != nil {
				e.set(err)
				return
			}
			<-start
			all[i], err = rpcLoop(st, p.RPCSize, deadline, uint64(i)<<32+1)
			e.set(err)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	deadline = t0.Add(p.RPCDuration)
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	wait()
	if err := e.get(); err != nil {
		return nil, err
	}
	var lat latencies
	for _, l := range all {
		lat = append(lat, l...)
	}
	return map[string]float64{
		"ops":    perSec(int64(len(lat)), elapsed),
		"p50_us": micros(percentile(lat, 0.50)),
		"p99_us": micros(percentile(lat, 0.99)),
	}, nil
}

// ---- fair ----

func runFair(c, s sessionLike, p params) (map[string]float64, error) {
	var e errs
	const tagBulk, tagRPC = 'B', 'R'
	var bulkIn atomic.Int64 // bytes the bulk receiver has read
	var bulkRecv sync.WaitGroup
	bulkRecv.Add(1)
	echoDone := make(chan struct{})
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		var bulkSeen, rpcSeen bool
		for range 2 {
			st, err := s.Accept()
			if err != nil {
				e.setf("accept: %w", err)
				return
			}
			var tag [1]byte
			if _, err := io.ReadFull(st, tag[:]); err != nil {
				e.setf("read tag: %w", err)
				st.Close()
				return
			}
			switch {
			case tag[0] == tagBulk && !bulkSeen:
				bulkSeen = true
				go func() {
					defer bulkRecv.Done()
					defer st.Close()
					buf := make([]byte, 32<<10)
					for {
						k, err := st.Read(buf)
						bulkIn.Add(int64(k))
						if err == io.EOF {
							return
						}
						if err != nil {
							e.setf("bulk read: %w", err)
							return
						}
					}
				}()
			case tag[0] == tagRPC && !rpcSeen:
				rpcSeen = true
				go func() {
					defer close(echoDone)
					echo(st, p.RPCSize, &e)
				}()
			default:
				e.setf("unexpected stream tag %q", tag[0])
				st.Close()
				return
			}
		}
	}()

	// The RPC stream first, with one roundtrip so both sides know it.
	rpcSt, err := c.Open()
	if err != nil {
		return nil, fmt.Errorf("open rpc stream: %w", err)
	}
	defer rpcSt.Close()
	if _, err := rpcSt.Write([]byte{tagRPC}); err != nil {
		return nil, fmt.Errorf("write rpc tag: %w", err)
	}
	req, resp := pattern(p.RPCSize), make([]byte, p.RPCSize)
	if err := roundTrip(rpcSt, req, resp, 0); err != nil {
		return nil, err
	}

	bulkSt, err := c.Open()
	if err != nil {
		return nil, fmt.Errorf("open bulk stream: %w", err)
	}
	var stop atomic.Bool
	var bulkOut int64
	bulkDone := make(chan struct{})
	go func() {
		defer close(bulkDone)
		defer bulkSt.Close()
		if _, err := bulkSt.Write([]byte{tagBulk}); err != nil {
			e.setf("write bulk tag: %w", err)
			return
		}
		buf := pattern(p.WriteSize)
		for !stop.Load() {
			k, err := bulkSt.Write(buf)
			bulkOut += int64(k)
			if err != nil {
				e.setf("bulk write: %w", err)
				return
			}
		}
	}()

	time.Sleep(p.FairWarmup) // let the bulk stream fill the pipe
	in0, t0 := bulkIn.Load(), time.Now()
	lat, err := rpcLoop(rpcSt, p.RPCSize, t0.Add(p.RPCDuration), 1)
	elapsed := time.Since(t0)
	in1 := bulkIn.Load()
	e.set(err)
	stop.Store(true)
	<-bulkDone
	rpcSt.Close()
	<-accepted
	bulkRecv.Wait()
	select {
	case <-echoDone:
	case <-time.After(p.RunTimeout):
		e.setf("echo stream did not end")
	}
	if err := e.get(); err != nil {
		return nil, err
	}
	if got := bulkIn.Load(); got != bulkOut {
		return nil, fmt.Errorf("bulk stream: received %d bytes, sent %d", got, bulkOut)
	}
	if in1 == in0 {
		return nil, errors.New("bulk stream moved nothing during the RPCs")
	}
	return map[string]float64{
		"p50_us":     micros(percentile(lat, 0.50)),
		"p99_us":     micros(percentile(lat, 0.99)),
		"ops":        perSec(int64(len(lat)), elapsed),
		"bulk_mibps": mibPerSec(in1-in0, elapsed),
	}, nil
}

// ---- open ----

func runOpen(c, s sessionLike, p params) (map[string]float64, error) {
	var e errs
	var handled atomic.Int64
	served := make(chan struct{})
	go func() {
		defer close(served)
		var buf [16]byte
		for i := range p.OpenCount {
			st, err := s.Accept()
			if err != nil {
				e.setf("accept stream %d: %w", i, err)
				return
			}
			got := 0
			for {
				k, err := st.Read(buf[:])
				got += k
				if err == io.EOF {
					break
				}
				if err != nil {
					e.setf("stream %d: read: %w", i, err)
					break
				}
			}
			st.Close()
			if got != 1 {
				e.setf("stream %d: received %d bytes, want 1", i, got)
			}
			handled.Add(1)
		}
	}()

	// The plain loop a user writes: no window of its own. The library's
	// admission must keep the opener from outrunning the acceptor.
	one := []byte{1}
	start := time.Now()
	for i := range p.OpenCount {
		if e.get() != nil {
			break
		}
		st, err := c.Open()
		if err != nil {
			e.setf("open stream %d: %w", i, err)
			break
		}
		if _, err := st.Write(one); err != nil {
			e.setf("stream %d: write: %w", i, err)
		}
		st.Close()
	}
	if err := e.get(); err != nil {
		return nil, err
	}
	<-served
	elapsed := time.Since(start)
	if err := e.get(); err != nil {
		return nil, err
	}
	if n := handled.Load(); n != int64(p.OpenCount) {
		return nil, fmt.Errorf("peer handled %d streams, want %d", n, p.OpenCount)
	}
	return map[string]float64{"streams_per_sec": perSec(int64(p.OpenCount), elapsed)}, nil
}

// ---- idle ----

func runIdle(c, s sessionLike, p params) (map[string]float64, error) {
	var e errs
	n := p.IdleStreams
	var mu sync.Mutex // guards cli and srv
	cli := make([]io.ReadWriteCloser, 0, n)
	srv := make([]io.ReadWriteCloser, 0, n)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range cli {
			st.Close()
		}
		for _, st := range srv {
			st.Close()
		}
	}()
	h0, g0 := heapAfterGC(), runtime.NumGoroutine()

	served := make(chan struct{})
	go func() {
		defer close(served)
		var b [1]byte
		for i := range n {
			st, err := s.Accept()
			if err != nil {
				e.setf("accept stream %d: %w", i, err)
				return
			}
			mu.Lock()
			srv = append(srv, st)
			mu.Unlock()
			if _, err := io.ReadFull(st, b[:]); err != nil {
				e.setf("stream %d: read: %w", i, err)
				return
			}
		}
	}()
	// The plain burst: every stream opened at once, each by a goroutine
	// of its own, which ends once its byte is written.
	var wg sync.WaitGroup
	one := []byte{1}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Open()
			if err != nil {
				e.setf("open stream %d: %w", i, err)
				return
			}
			mu.Lock()
			cli = append(cli, st)
			mu.Unlock()
			if _, err := st.Write(one); err != nil {
				e.setf("stream %d: write: %w", i, err)
			}
		}()
	}
	wg.Wait()
	if err := e.get(); err != nil {
		return nil, err
	}
	<-served
	if err := e.get(); err != nil {
		return nil, err
	}
	time.Sleep(p.IdleSettle) // acknowledgements and window updates
	h1, g1 := heapAfterGC(), runtime.NumGoroutine()
	return map[string]float64{
		"heap_per_stream":       float64(int64(h1)-int64(h0)) / float64(n),
		"goroutines_per_stream": float64(g1-g0) / float64(n),
	}, nil
}

// heapAfterGC returns HeapAlloc after two collections (the second clears
// what sync.Pools kept through the first).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// ---- allocs ----

func runAllocs(c, s sessionLike, p params) (map[string]float64, error) {
	var e errs
	wait := echoServer(s, 1, p.AllocSize, &e)
	st, err := c.Open()
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	req, resp := pattern(p.AllocSize), make([]byte, p.AllocSize)
	warm := max(p.AllocRounds/100, 10)
	for i := range warm {
		if err := roundTrip(st, req, resp, uint64(i)); err != nil {
			st.Close()
			return nil, err
		}
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	for i := range p.AllocRounds {
		if err := roundTrip(st, req, resp, uint64(warm+i)); err != nil {
			st.Close()
			return nil, err
		}
	}
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&m1)
	st.Close()
	wait()
	if err := e.get(); err != nil {
		return nil, err
	}
	n := float64(p.AllocRounds)
	return map[string]float64{
		"allocs_per_op": float64(m1.Mallocs-m0.Mallocs) / n,
		"bytes_per_op":  float64(m1.TotalAlloc-m0.TotalAlloc) / n,
		"us_per_op":     micros(elapsed) / n,
	}, nil
}
