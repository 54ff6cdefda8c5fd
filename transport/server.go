package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/netmux/netmux/core"
)

// Server serves sessions from one or more listeners, running Handler for
// each in its own goroutine. The zero value is not usable: set Config
// (start from core.DefaultConfig) and Handler.
type Server struct {
	// Config is the configuration of every session.
	Config core.Config

	// Handler serves one session. When it returns, the session is closed.
	Handler func(*core.Session)

	// PrefaceTimeout bounds each connection's handshake and preface
	// (0: DefaultPrefaceTimeout).
	PrefaceTimeout time.Duration

	// MaxHandshakes and MaxPending bound the connections in their
	// handshake and the sessions waiting to be handed to Handler, per
	// listener (0: DefaultMaxHandshakes, DefaultMaxPending). See
	// WithMaxHandshakes and WithMaxPending.
	MaxHandshakes, MaxPending int

	// Handshake, if not nil, runs on every connection before its preface,
	// for example to authenticate the client. See WithHandshake.
	Handshake func(ctx context.Context, conn io.ReadWriteCloser) error

	mu        sync.Mutex
	listeners map[*SessionListener]struct{}
	sessions  map[*core.Session]struct{}
	shutdown  bool
	handlers  sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("netmux: server closed")

// Serve accepts sessions from ln until Shutdown or a listener error, and
// closes ln when it returns. It returns ErrServerClosed after Shutdown.
func (srv *Server) Serve(ln Listener) error {
	opts := []ListenerOption{WithMaxHandshakes(srv.MaxHandshakes), WithMaxPending(srv.MaxPending)}
	if srv.PrefaceTimeout > 0 {
		opts = append(opts, WithPrefaceTimeout(srv.PrefaceTimeout))
	}
	if srv.Handshake != nil {
		opts = append(opts, WithHandshake(srv.Handshake))
	}
	sl, err := NewListener(ln, srv.Config, opts...)
	if err != nil {
		ln.Close()
		return err
	}
	srv.mu.Lock()
	if srv.shutdown {
		srv.mu.Unlock()
		sl.Close()
		return ErrServerClosed
	}
	if srv.listeners == nil {
		srv.listeners = make(map[*SessionListener]struct{})
		srv.sessions = make(map[*core.Session]struct{})
	}
	srv.listeners[sl] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, sl)
		srv.mu.Unlock()
		sl.Close()
	}()

	for {
		sess, err := sl.Accept()
		if err != nil {
			srv.mu.Lock()
			down := srv.shutdown
			srv.mu.Unlock()
			if down || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			return err
		}
		if !srv.add(sess) {
			sess.Close()
			return ErrServerClosed
		}
		srv.handlers.Go(func() {
			defer srv.remove(sess)
			srv.Handler(sess)
			sess.Close()
		})
	}
}

func (srv *Server) add(sess *core.Session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.shutdown {
		return false
	}
	srv.sessions[sess] = struct{}{}
	return true
}

func (srv *Server) remove(sess *core.Session) {
	srv.mu.Lock()
	delete(srv.sessions, sess)
	srv.mu.Unlock()
}

// Shutdown stops the listeners, shuts every session down gracefully
// (GoAway, then open streams drain until ctx ends: see
// core.Session.Shutdown) and waits for the handlers to return. When ctx
// ends first, the remaining sessions are closed and ctx's error returned.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.shutdown = true
	listeners := make([]*SessionListener, 0, len(srv.listeners))
	for l := range srv.listeners {
		listeners = append(listeners, l)
	}
	sessions := make([]*core.Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()

	for _, l := range listeners {
		l.Close()
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() { s.Shutdown(ctx) })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		srv.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
