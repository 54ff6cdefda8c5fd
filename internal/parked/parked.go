// Package parked tells tests whether goroutines are blocked inside given
// functions, from the runtime's stack dump. It is the deterministic way to
// know that a call (a Read waiting for data, an Accept waiting for a
// stream) has parked before a test does what should wake it: a test that
// closes first and calls second passes even when Close wakes nothing.
package parked

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Count returns how many goroutines are parked (in any waiting state, not
// running, runnable or in a system call) with fn on their stack. fn is a
// fully qualified function name as a stack dump prints it, for example
// "github.com/netmux/netmux/core.(*Stream).Read".
func Count(fn string) int {
	n := 0
	for _, g := range goroutines() {
		if g.waiting() && g.calls(fn) {
			n++
		}
	}
	return n
}

// Wait waits until, for each fn in fns, a goroutine is parked with fn on
// its stack (one goroutine per occurrence of fn in fns), polling the stack
// dump. It returns an error naming what was not parked after timeout.
func Wait(timeout time.Duration, fns ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := Missing(fns...)
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not parked after %v: %s", timeout, strings.Join(missing, ", "))
		}
		time.Sleep(time.Millisecond) // polling the dump, not synchronising on time
	}
}

// Missing returns those of fns that no parked goroutine is in, counting
// repeated names: a name given twice needs two goroutines.
func Missing(fns ...string) []string {
	want := map[string]int{}
	for _, fn := range fns {
		want[fn]++
	}
	var missing []string
	gs := goroutines()
	for _, fn := range fns {
		if want[fn] == 0 {
			continue
		}
		have := 0
		for _, g := range gs {
			if g.waiting() && g.calls(fn) {
				have++
			}
		}
		if have < want[fn] {
			missing = append(missing, fmt.Sprintf("%s (%d of %d)", fn, have, want[fn]))
		}
		want[fn] = 0
	}
	return missing
}

type goroutine struct {
	state string   // from the header: "chan receive", "select", "running"...
	funcs []string // the function of each frame, innermost first
}

func (g goroutine) waiting() bool {
	s, _, _ := strings.Cut(g.state, ",") // "select, 2 minutes"
	switch s {
	case "running", "runnable", "syscall", "dead", "idle":
		return false
	}
	return true
}

func (g goroutine) calls(fn string) bool {
	for _, f := range g.funcs {
		if f == fn {
			return true
		}
	}
	return false
}

// Stacks returns the stack of every goroutine, one string each, as the
// runtime's stack dump prints them.
func Stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Split(string(buf), "\n\n")
}

func goroutines() []goroutine {
	var gs []goroutine
	for _, block := range Stacks() {
		lines := strings.Split(block, "\n")
		// "goroutine 18 [chan receive]:"
		_, state, ok := strings.Cut(lines[0], "[")
		if !ok {
			continue
		}
		state, _, _ = strings.Cut(state, "]")
		g := goroutine{state: state}
		for _, l := range lines[1:] {
			if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
				continue
			}
			// "github.com/netmux/netmux/core.(*Stream).Read(0xc000010000, ...)"
			if i := strings.LastIndex(l, "("); i > 0 {
				l = l[:i]
			}
			g.funcs = append(g.funcs, l)
		}
		gs = append(gs, g)
	}
	return gs
}
