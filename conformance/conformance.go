package conformance

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/netmux/netmux/core"
	"go.uber.org/goleak"
)

// MakePipe returns two connected ends of a fresh connection over the
// transport under test. It registers their cleanup with t.Cleanup; the
// suite may also close them itself (closing twice must be safe).
type MakePipe func(t testing.TB) (c1, c2 io.ReadWriteCloser)

// Option adjusts the suite to what a transport can and cannot do.
type Option func(*options)

type options struct {
	timeout     time.Duration
	progress    time.Duration
	noCloseEOF  string // why Close does not reach the peer, if it does not
	config      func(*core.Config)
	scale       int // divides data volumes
	skip        map[string]string
	leakIgnores []goleak.Option
}

// WithCheckTimeout sets how long a single check may run before it is
// reported as hung and its connections are closed (default 2 min).
func WithCheckTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithProgressTimeout sets how long a data-moving check may go without a
// byte moving in a direction it still waits on before it fails, naming the
// direction and how many bytes were sent and received (default 10 s). A
// transport that loses or withholds bytes then fails in seconds instead of
// at the check timeout.
func WithProgressTimeout(d time.Duration) Option { return func(o *options) { o.progress = d } }

// WithoutCloseNotification declares that closing one end of a raw
// connection does not reach the other (KCP has no FIN). The transport
// check that needs it is skipped with reason; everything else runs, since
// the session's own close handshake does not depend on it.
func WithoutCloseNotification(reason string) Option {
	return func(o *options) { o.noCloseEOF = reason }
}

// WithConfig adjusts the session configuration used by the mux checks.
func WithConfig(f func(*core.Config)) Option { return func(o *options) { o.config = f } }

// WithScale divides the data volumes of the checks by n (n > 1), for slow
// carriers. Counts and semantics stay the same.
func WithScale(n int) Option { return func(o *options) { o.scale = max(n, 1) } }

// Skip skips the named check, reporting reason. Use it only for what the
// transport cannot do; the reason is printed.
func Skip(check, reason string) Option {
	return func(o *options) {
		if o.skip == nil {
			o.skip = map[string]string{}
		}
		o.skip[check] = reason
	}
}

// IgnoreGoroutines tells the leak checks to ignore goroutines the
// transport itself keeps running across connections (for example a
// shared UDP socket's reader), by top function name.
func IgnoreGoroutines(topFunctions ...string) Option {
	return func(o *options) {
		for _, f := range topFunctions {
			o.leakIgnores = append(o.leakIgnores, goleak.IgnoreTopFunction(f))
		}
	}
}

// check is one named conformance check.
type check struct {
	name string
	run  func(e *env)
}

// Run runs every transport check, mux check, load check and attack check
// over mp,
// each as a named subtest in a fixed order, each under its own timeout
// and followed by a goroutine-leak check.
func Run(t *testing.T, mp MakePipe, opts ...Option) {
	t.Run("Transport", func(t *testing.T) { RunTransport(t, mp, opts...) })
	t.Run("Mux", func(t *testing.T) { RunMux(t, mp, opts...) })
	t.Run("Load", func(t *testing.T) { RunLoad(t, mp, opts...) })
	t.Run("Attacks", func(t *testing.T) { RunAttacks(t, mp, opts...) })
}

// RunTransport runs only the checks on the raw connection pair.
func RunTransport(t *testing.T, mp MakePipe, opts ...Option) {
	runChecks(t, mp, transportChecks, opts)
}

// RunMux runs only the checks on sessions built over the pair.
func RunMux(t *testing.T, mp MakePipe, opts ...Option) {
	runChecks(t, mp, muxChecks, opts)
}

func runChecks(t *testing.T, mp MakePipe, checks []check, opts []Option) {
	o := options{timeout: 2 * time.Minute, progress: 10 * time.Second, scale: 1}
	for _, f := range opts {
		f(&o)
	}
	if testing.Short() {
		o.scale *= 8
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if reason, ok := o.skip[c.name]; ok {
				t.Skip(reason)
			}
			// Registered first, so it runs last: after the check's
			// sessions and the transport's own cleanups.
			ign := append([]goleak.Option{goleak.IgnoreCurrent()}, o.leakIgnores...)
			t.Cleanup(func() { goleak.VerifyNone(t, ign...) })
			e := &env{T: t, mp: mp, opts: &o}
			watchdog := time.AfterFunc(o.timeout, func() {
				t.Errorf("check %s hung for %v: closing its connections", c.name, o.timeout)
				e.closeAll()
			})
			defer watchdog.Stop()
			defer e.closeAll()
			c.run(e)
		})
	}
}

// env is what a check works with: pairs and sessions that the watchdog
// and the end of the check close.
type env struct {
	*testing.T
	mp   MakePipe
	opts *options

	mu      sync.Mutex
	closers []io.Closer
}

func (e *env) track(c io.Closer) {
	e.mu.Lock()
	e.closers = append(e.closers, c)
	e.mu.Unlock()
}

func (e *env) closeAll() {
	e.mu.Lock()
	cs := e.closers
	e.closers = nil
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}

// pipe returns a fresh raw pair, closed at the end of the check.
func (e *env) pipe() (io.ReadWriteCloser, io.ReadWriteCloser) {
	c1, c2 := e.mp(e.T)
	e.track(c1)
	e.track(c2)
	return c1, c2
}

// size scales a data volume for the transport and -short.
func (e *env) size(n int) int { return max(n/e.opts.scale, 1) }

// config is the session configuration for mux checks.
func (e *env) config() core.Config {
	cfg := core.DefaultConfig()
	if e.opts.config != nil {
		e.opts.config(&cfg)
	}
	return cfg
}
