package conformance

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// flow counts the bytes one direction of a check has sent and received,
// so that a stall can be reported by direction and count.
type flow struct {
	name        string // for example "c1→c2"
	total       int64  // bytes the receiving end waits for
	sent, recvd atomic.Int64
}

func newFlow(name string, total int) *flow { return &flow{name: name, total: int64(total)} }

// writer counts what is written through it as sent.
func (f *flow) writer(w io.Writer) io.Writer { return countingWriter{w, &f.sent} }

// reader counts what is read through it as received.
func (f *flow) reader(r io.Reader) io.Reader { return countingReader{r, &f.recvd} }

func (f *flow) String() string {
	return fmt.Sprintf("%s: sent %d and received %d of %d bytes", f.name, f.sent.Load(), f.recvd.Load(), f.total)
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// watchProgress fails the check as soon as a flow that has not yet
// received all its bytes has moved none (sent or received) for the
// progress timeout. It reports every flow's counts, then closes the
// check's connections so that its blocked calls return. Call the
// returned stop before the check ends.
func (e *env) watchProgress(flows ...*flow) (stop func()) {
	limit := e.opts.progress
	if limit <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(min(limit/10, 100*time.Millisecond))
		defer tick.Stop()
		last := make([]int64, len(flows))
		since := make([]time.Time, len(flows))
		for i := range flows {
			since[i] = time.Now()
		}
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				for i, f := range flows {
					moved := f.sent.Load() + f.recvd.Load()
					if moved != last[i] || f.recvd.Load() >= f.total {
						last[i], since[i] = moved, now
						continue
					}
					if now.Sub(since[i]) < limit {
						continue
					}
					var all []string
					for _, g := range flows {
						all = append(all, g.String())
					}
					e.Errorf("no progress: %s moved no byte for %v (%d bytes missing); the transport lost or withheld data\n\t%s",
						f.name, limit, f.total-f.recvd.Load(), strings.Join(all, "\n\t"))
					e.closeAll()
					return
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
