package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
)

type demoOptions struct {
	transports []string
	streams    int           // concurrent echo streams
	size       int           // bytes each echo stream sends (and gets back)
	duration   time.Duration // keep echoing this long (0: each stream once)
	pings      int           // idle pings measured after the echo phase
	timeout    time.Duration // bound on one transport
}

// demoCommand is "netmux demo".
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("netmux demo", stderr, "[flags]")
	transports := fs.String("transports", strings.Join(demoTransports, ","),
		"comma `list` of transports: "+strings.Join(schemes, ", ")+", or all")
	streams := fs.Int("streams", 64, "concurrent streams per transport")
	size := byteSize(512 << 10)
	fs.Var(&size, "size", "`bytes` each stream echoes (suffix K, M or G: binary units)")
	duration := fs.Duration("duration", 2*time.Second,
		"keep opening streams and echoing for this `duration` per transport (0: each stream echoes once)")
	pings := fs.Int("pings", 50, "idle round trips measured per transport")
	timeout := fs.Duration("timeout", time.Minute, "give up on a transport after this `duration`")
	progressMode := fs.String("progress", "auto", "`mode`: live (a line per transport, rewritten), plain, or auto (live on a terminal)")
	var common commonFlags
	common.register(fs, false)
	log, code := setup(fs, args, &common, stderr)
	if code >= 0 {
		return code
	}
	opts := demoOptions{streams: *streams, size: int(size), duration: *duration, pings: *pings, timeout: *timeout}
	for _, t := range strings.Split(*transports, ",") {
		switch t = strings.TrimSpace(strings.ToLower(t)); {
		case t == "all":
			opts.transports = append(opts.transports, schemes...)
		case knownScheme(t):
			opts.transports = append(opts.transports, t)
		case t != "":
			return usageError(fs, "unknown transport %q (want %s or all)", t, strings.Join(schemes, ", "))
		}
	}
	switch {
	case len(opts.transports) == 0:
		return usageError(fs, "no transports")
	case opts.streams < 1 || opts.size < 1 || opts.pings < 0 || opts.duration < 0 || opts.timeout <= 0:
		return usageError(fs, "want --streams and --size of at least 1, --pings and --duration not negative, --timeout positive")
	}
	var live bool
	switch *progressMode {
	case "auto":
		live = isTerminal(stdout)
	case "live":
		live = true
	case "plain":
	default:
		return usageError(fs, "--progress %q: want auto, live or plain", *progressMode)
	}
	if err := runDemo(ctx, stdout, live, opts, log); err != nil {
		fmt.Fprintln(stderr, "netmux demo:", err)
		return exitFail
	}
	return exitOK
}

// demoResult is one row of the final table.
type demoResult struct {
	transport string
	streams   int64         // echo streams completed
	bytes     int64         // echoed bytes, both directions
	elapsed   time.Duration // of the echo phase
	rtts      []time.Duration
	loaded    []time.Duration // pings sent during the echo phase
	err       error
}

// runDemo runs every transport of opts in turn, showing progress on out,
// and prints the result table. It fails if any transport failed.
func runDemo(ctx context.Context, out io.Writer, live bool, opts demoOptions, log *slog.Logger) error {
	once := "once"
	if opts.duration > 0 {
		once = "for " + opts.duration.String()
	}
	fmt.Fprintf(out, "netmux demo: server and client in this process on 127.0.0.1, over %s\n"+
		"%d streams at a time, each echoing %s of checksummed data, %s per transport;\n"+
		"then %d pings, half-close, reset and graceful-close checks.\n\n",
		strings.Join(opts.transports, ", "), opts.streams, byteSize(opts.size), once, opts.pings)
	certs, err := newDemoCerts()
	if err != nil {
		return err
	}
	p := newProgress(out, live, opts.transports)
	p.start()
	var results []demoResult
	for i, name := range opts.transports {
		results = append(results, demoTransport(ctx, name, opts, p.rows[i], certs, log))
	}
	p.finish()
	if !live {
		fmt.Fprintln(out)
	}

	tab := table{header: []string{"transport", "streams", "MB/s", "RTT p50", "RTT p99", "p99 loaded", "result"},
		right: []bool{false, true, true, true, true, true, false}}
	failed := 0
	for _, r := range results {
		result := "ok"
		if r.err != nil {
			failed++
			result = "FAIL: " + r.err.Error()
		}
		mbps := 0.0
		if r.elapsed > 0 {
			mbps = float64(r.bytes) / r.elapsed.Seconds() / 1e6
		}
		tab.rows = append(tab.rows, []string{r.transport, strconv.FormatInt(r.streams, 10), fmt.Sprintf("%.1f", mbps),
			fmtRTT(percentile(r.rtts, 50)), fmtRTT(percentile(r.rtts, 99)), fmtRTT(percentile(r.loaded, 99)), result})
	}
	tab.write(out)
	fmt.Fprintln(out, "\nMB/s counts echoed bytes in both directions; RTT is Session.Ping when idle, and during the echo phase.")
	if failed > 0 {
		return fmt.Errorf("%d of %d transports failed", failed, len(results))
	}
	return nil
}

// demoCerts is the throwaway PKI of the TLS-based transports.
type demoCerts struct {
	server, client *tls.Config
}

func newDemoCerts() (*demoCerts, error) {
	cert, err := selfSigned([]string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &demoCerts{
		server: &tls.Config{Certificates: []tls.Certificate{cert}},
		client: &tls.Config{RootCAs: pool},
	}, nil
}

// demoTransport runs the demo over one transport: a server and a client
// session in this process, an echo phase, pings and the checks.
func demoTransport(ctx context.Context, name string, opts demoOptions, row *progressRow, certs *demoCerts, log *slog.Logger) (res demoResult) {
	res.transport = name
	defer func() {
		if res.err != nil {
			row.finish("FAIL: " + res.err.Error())
		} else {
			row.finish(fmt.Sprintf("ok  %d streams  %.1f MB/s  RTT p50 %s", res.streams,
				float64(res.bytes)/res.elapsed.Seconds()/1e6, fmtRTT(percentile(res.rtts, 50))))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	phase := "listen"
	failed := func(err error) demoResult {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		res.err = fmt.Errorf("%s: %w", phase, err)
		return res
	}

	row.setPhase("connect", "", false)
	ep := endpoint{scheme: name, host: "127.0.0.1:0"}
	var serverTLS, clientTLS *tls.Config
	if ep.needsTLS() {
		serverTLS, clientTLS = certs.server, certs.client
	}
	ln, err := ep.listen(serverTLS)
	if err != nil {
		return failed(err)
	}
	cfg := core.DefaultConfig()
	cfg.Logger = log.With("transport", name)
	ds := &demoServer{reports: make(chan serverReport, 16)}
	srv := &transport.Server{Config: cfg, Handler: ds.serve}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && res.err == nil {
			res.err = fmt.Errorf("server shutdown: %w", err)
		}
		<-served
	}()

	phase = "dial"
	d, addr := ep.bound(ln).dialer(clientTLS)
	sess, err := transport.Dial(ctx, d, addr, cfg)
	if err != nil {
		return failed(err)
	}
	defer sess.Close()
	stop := context.AfterFunc(ctx, func() { sess.Close() }) // nothing outlives the timeout
	defer stop()

	phase = "echo"
	row.setPhase("echo", "", true)
	row.note("echoing on %d streams at a time", opts.streams)
	if err := echoPhase(ctx, sess, opts, row, &res); err != nil {
		return failed(err)
	}
	row.note("echoed %.1f MB in %d streams in %v (%.1f MB/s)", float64(res.bytes)/1e6, res.streams,
		res.elapsed.Round(time.Millisecond), float64(res.bytes)/res.elapsed.Seconds()/1e6)

	phase = "ping"
	row.setPhase("ping", strconv.Itoa(opts.pings)+" round trips", false)
	for range opts.pings {
		rtt, err := sess.Ping(ctx)
		if err != nil {
			return failed(err)
		}
		res.rtts = append(res.rtts, rtt)
	}

	checks := []struct {
		name string
		fn   func(context.Context, *core.Session, *demoServer) error
	}{
		{"half-close", checkHalfClose},
		{"reset", checkReset},
		{"stream close", checkStreamClose},
		{"session close", checkSessionClose}, // last: it closes the session
	}
	row.note("RTT p50 %s, p99 %s; checking half-close, reset, stream close, session close",
		fmtRTT(percentile(res.rtts, 50)), fmtRTT(percentile(res.rtts, 99)))
	for _, c := range checks {
		phase = c.name
		row.setPhase("check", c.name, false)
		if err := c.fn(ctx, sess, ds); err != nil {
			return failed(err)
		}
	}
	phase = "close"
	row.setPhase("close", "", false)
	if err := sess.Close(); err != nil && !errors.Is(err, core.ErrSessionClosed) {
		return failed(err)
	}
	return res
}

// echoPhase runs opts.streams workers, each opening a stream, echoing
// opts.size checksummed bytes through it and checking what comes back,
// again and again until opts.duration has passed. Pings are measured
// meanwhile.
func echoPhase(ctx context.Context, sess *core.Session, opts demoOptions, row *progressRow, res *demoResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(opts.duration)
	for w := range opts.streams {
		wg.Go(func() {
			for i := 0; ; i++ {
				err := echoCheck(ctx, sess, uint64(w)<<32|uint64(i), opts.size, row)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				row.streamDone()
				if !time.Now().Before(deadline) {
					return
				}
			}
		})
	}
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rtt, err := sess.Ping(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			res.loaded = append(res.loaded, rtt)
			mu.Unlock()
		}
	}()
	wg.Wait()
	res.elapsed = time.Since(start)
	cancel()
	<-pinged
	res.bytes = row.bytes.Load()
	res.streams = row.streams.Load()
	return firstErr
}

const echoChunk = 32 << 10

// echoCheck sends size pseudo-random bytes on a new stream, half-closes,
// and checks that the echo has the same length and CRC-32C.
func echoCheck(ctx context.Context, sess *core.Session, seed uint64, size int, row *progressRow) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset(core.CodeCancel) })
	defer stop()

	sent := make(chan uint32, 1)
	werr := make(chan error, 1)
	go func() {
		src, h := newSource(seed), crc32.New(castagnoli)
		buf := make([]byte, echoChunk)
		_, err := st.Write([]byte{cmdEcho})
		for left := size; left > 0 && err == nil; {
			b := buf[:min(left, len(buf))]
			src.Read(b)
			h.Write(b)
			var n int
			n, err = st.Write(b)
			row.addBytes(n)
			left -= n
		}
		if err == nil {
			err = st.CloseWrite()
		}
		sent <- h.Sum32()
		werr <- err
	}()

	h := crc32.New(castagnoli)
	buf := make([]byte, echoChunk)
	var got int
	var rerr error
	for {
		n, err := st.Read(buf)
		h.Write(buf[:n])
		got += n
		row.addBytes(n)
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	if rerr != nil {
		st.Reset(core.CodeCancel) // unblock the writer
	}
	if err := errors.Join(<-werr, rerr); err != nil {
		return fmt.Errorf("stream %d: %w", st.ID(), err)
	}
	if sum := <-sent; got != size || h.Sum32() != sum {
		return fmt.Errorf("stream %d: echo differs: %d of %d bytes, crc %08x want %08x", st.ID(), got, size, h.Sum32(), sum)
	}
	return nil
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// table is a text table whose columns are aligned left or right.
type table struct {
	header []string
	right  []bool
	rows   [][]string
}

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range append([][]string{t.header}, t.rows...) {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.right[i] {
				b.WriteString(pad + cell)
			} else if i < len(row)-1 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// fmtRTT formats a round-trip time for the table: µs below 1 ms.
func fmtRTT(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return d.Round(time.Millisecond).String()
	}
}

// byteSize is a flag value with binary K, M and G suffixes.
type byteSize int

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := 1
	upper := strings.ToUpper(s)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			s, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("bad size %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (b byteSize) String() string {
	switch n := int(b); {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	default:
		return strconv.Itoa(n) + " B"
	}
}
