package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/netmux/netmux/core"
)

type demoOptions struct {
	streams  int
	size     int
	duration time.Duration
}

type demoResult struct {
	transport string
	streams   int
	bytes     int64
	elapsed   time.Duration
	rtts      []time.Duration
	err       error
}

// runDemo runs the demo over loopback TCP and prints the result table.
func runDemo(out io.Writer, opts demoOptions) error {
	fmt.Fprintf(out, "netmux demo: %d streams x %d bytes over tcp (loopback)\n", opts.streams, opts.size)
	res := demoTCP(opts)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "transport\tstreams\tMB/s\tRTT p50\tRTT p99\tresult")
	result := "ok"
	if res.err != nil {
		result = "FAIL: " + res.err.Error()
	}
	mbps := float64(res.bytes) / res.elapsed.Seconds() / 1e6
	fmt.Fprintf(tw, "%s\t%d\t%.1f\t%v\t%v\t%s\n", res.transport, res.streams, mbps,
		percentile(res.rtts, 50), percentile(res.rtts, 99), result)
	tw.Flush()
	return res.err
}

func demoTCP(opts demoOptions) demoResult {
	res := demoResult{transport: "tcp", streams: opts.streams}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		res.err = err
		return res
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() { srvErr <- serveEcho(ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		res.err = err
		return res
	}
	sess, err := core.Client(conn, core.DefaultConfig())
	if err != nil {
		res.err = err
		return res
	}
	res.err = errors.Join(exercise(sess, opts, &res), sess.Close(), <-srvErr)
	return res
}

// serveEcho accepts one session and echoes every stream until the client
// closes the session.
func serveEcho(ln net.Listener) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	sess, err := core.Server(conn, core.DefaultConfig())
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for {
		st, err := sess.AcceptStream(context.Background())
		if err != nil {
			break
		}
		wg.Go(func() {
			io.Copy(st, st)
			st.CloseWrite()
			io.Copy(io.Discard, st)
			st.Close()
		})
	}
	wg.Wait()
	<-sess.Done()
	if err := sess.Err(); !errors.Is(err, core.ErrSessionClosed) {
		return err
	}
	return nil
}

// exercise runs the echo rounds, pings, a half-close check and a reset.
func exercise(sess *core.Session, opts demoOptions, res *demoResult) error {
	ctx := context.Background()
	start := time.Now()
	for round := 0; ; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, opts.streams)
		for i := range opts.streams {
			wg.Go(func() { errs <- echoStream(ctx, sess, uint64(round*opts.streams+i), opts.size) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		res.bytes += int64(2 * opts.streams * opts.size)
		rtt, err := sess.Ping(ctx)
		if err != nil {
			return err
		}
		res.rtts = append(res.rtts, rtt)
		if time.Since(start) >= opts.duration {
			break
		}
	}
	res.elapsed = time.Since(start)
	for range 20 {
		rtt, err := sess.Ping(ctx)
		if err != nil {
			return err
		}
		res.rtts = append(res.rtts, rtt)
	}
	return checkReset(ctx, sess)
}

// echoStream writes seeded random data, half-closes, and checks the echo.
func echoStream(ctx context.Context, sess *core.Session, seed uint64, size int) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(st)
	if err := errors.Join(err, <-werr); err != nil {
		return fmt.Errorf("stream %d: %w", st.ID(), err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) || !bytes.Equal(got, data) {
		return fmt.Errorf("stream %d: echo differs (%d of %d bytes)", st.ID(), len(got), len(data))
	}
	return nil
}

// checkReset resets a stream and checks the code comes back to us as the
// echo side's failure to write is observed.
func checkReset(ctx context.Context, sess *core.Session) error {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return err
	}
	if _, err := st.Write([]byte("about to reset")); err != nil {
		return err
	}
	st.Reset(0x4e4d)
	var se *core.StreamError
	if _, err := st.Read(make([]byte, 1)); !errors.As(err, &se) || se.Code != 0x4e4d {
		return fmt.Errorf("reset: want a StreamError with code 0x4e4d, got %v", err)
	}
	return nil
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(time.Microsecond)
}
