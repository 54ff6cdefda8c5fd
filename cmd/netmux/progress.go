package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// isTerminal reports whether w is a terminal that understands cursor
// movement: a character device, with TERM not "dumb".
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return os.Getenv("TERM") != "dumb"
}

// progress shows what the demo is doing. Live, it keeps one line per
// transport and rewrites the block in place several times a second
// (ANSI cursor-up and erase-line); plain, it prints a line per event,
// which suits logs and pipes.
type progress struct {
	out   io.Writer
	live  bool
	width int // live: lines are cut to this many columns, so none wraps and breaks the redraw

	mu    sync.Mutex // serialises output
	rows  []*progressRow
	drawn int // live: lines the last redraw wrote

	stop chan struct{}
	done chan struct{}
}

// progressRow is one transport's line.
type progressRow struct {
	p    *progress
	name string

	mu     sync.Mutex
	phase  string
	detail string
	since  time.Time // when the current measured phase started
	result string    // final, once set

	bytes   atomic.Int64
	streams atomic.Int64
}

func newProgress(out io.Writer, live bool, names []string) *progress {
	p := &progress{out: out, live: live, width: termWidth() - 1}
	for _, n := range names {
		p.rows = append(p.rows, &progressRow{p: p, name: n, phase: "waiting"})
	}
	return p
}

// termWidth is the terminal's width from $COLUMNS, or 80.
func termWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n >= 20 {
		return n
	}
	return 80
}

// start draws the block and, live, starts redrawing it every 100 ms.
func (p *progress) start() {
	if !p.live {
		return
	}
	p.mu.Lock()
	p.redrawLocked()
	p.mu.Unlock()
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.redrawLocked()
				p.mu.Unlock()
			case <-p.stop:
				return
			}
		}
	}()
}

// finish stops the redraws and, live, erases the block so the summary
// table takes its place.
func (p *progress) finish() {
	if !p.live {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

// redrawLocked moves the cursor to the top of the block and rewrites
// every line. Call with mu held.
func (p *progress) redrawLocked() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, r := range p.rows {
		line := r.line()
		if r := []rune(line); len(r) > p.width {
			line = string(r[:p.width])
		}
		b.WriteString("\r\x1b[2K")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	p.drawn = len(p.rows)
	io.WriteString(p.out, b.String())
}

// line renders the row for the live block.
func (r *progressRow) line() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.result != "" {
		return fmt.Sprintf("  %-5s %s", r.name, r.result)
	}
	s := fmt.Sprintf("  %-5s %-10s", r.name, r.phase)
	if !r.since.IsZero() {
		el := time.Since(r.since)
		s += fmt.Sprintf(" %6d streams  %8.1f MB/s  %5.1fs", r.streams.Load(),
			float64(r.bytes.Load())/el.Seconds()/1e6, el.Seconds())
	} else if r.detail != "" {
		s += " " + r.detail
	}
	return s
}

// setPhase records what the transport is doing now, for the live line;
// measured phases show a byte rate.
func (r *progressRow) setPhase(phase, detail string, measured bool) {
	r.mu.Lock()
	r.phase, r.detail = phase, detail
	r.since = time.Time{}
	if measured {
		r.since = time.Now()
	}
	r.mu.Unlock()
}

// note prints an event line in plain mode (live lines show state only).
func (r *progressRow) note(format string, args ...any) {
	r.p.printf("%s: %s", r.name, fmt.Sprintf(format, args...))
}

// finish records the transport's result.
func (r *progressRow) finish(result string) {
	r.mu.Lock()
	r.result = result
	r.mu.Unlock()
	r.p.printf("%s: %s", r.name, result)
}

func (r *progressRow) addBytes(n int) { r.bytes.Add(int64(n)) }
func (r *progressRow) streamDone()    { r.streams.Add(1) }

// printf writes a line in plain mode; live mode shows rows only.
func (p *progress) printf(format string, args ...any) {
	if p.live {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
