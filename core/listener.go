package core

import (
	"context"
	"net"
	"sync"
)

// Listener returns a [net.Listener] view of the session whose Close stops
// accepting without ending the session: it sends GoAway, so the peer
// opens no more streams, and refuses (RST with CodeRefused) the streams
// still waiting to be accepted; Accept then fails with an error matching
// [net.ErrClosed]. Streams already accepted, and streams this side opens,
// carry on until the session is closed.
//
// Hand this view to a server that closes its listener when it shuts down,
// such as [net/http.Server]: Shutdown then drains the requests in flight,
// where the Session itself, also a net.Listener, would end with every
// stream at its Close. Close the session once the server has returned.
func (s *Session) Listener() net.Listener {
	return &listener{s: s, done: make(chan struct{})}
}

type listener struct {
	s    *Session
	once sync.Once
	done chan struct{}
}

var errListenerClosed error = &streamClosedError{"netmux: listener closed"}

func (l *listener) Accept() (net.Conn, error) {
	st, err := l.s.acceptStream(context.Background(), l.done)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Close stops accepting; the session and its open streams carry on. A
// second Close fails with an error matching net.ErrClosed.
func (l *listener) Close() error {
	err := errListenerClosed
	l.once.Do(func() {
		close(l.done)
		l.s.stopAccepting()
		err = nil
	})
	return err
}

func (l *listener) Addr() net.Addr { return l.s.LocalAddr() }
