package main

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandoffConn: bytes arrive intact and in order through reads smaller
// than the hand-off buffer, EOF follows, and Close ends the reader
// goroutine even while it waits for the application.
func TestHandoffConn(t *testing.T) {
	a, b := net.Pipe()
	h := newHandoffConn(b)
	want := pattern(200 << 10)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		a.Write(want)
		a.Close()
	}()
	var got bytes.Buffer
	buf := make([]byte, 1000)
	_, err := io.CopyBuffer(&got, struct{ io.Reader }{h}, buf)
	require.NoError(t, err)
	require.True(t, bytes.Equal(got.Bytes(), want), "got %d bytes, not the %d sent", got.Len(), len(want))
	require.NoError(t, h.Close())
	<-sent

	// Unread data: the reader goroutine waits on free when Close comes.
	a, b = net.Pipe()
	h = newHandoffConn(b)
	sent = make(chan struct{})
	go func() {
		defer close(sent)
		a.Write([]byte("unread"))
	}()
	one := make([]byte, 1)
	_, err = h.Read(one)
	require.NoError(t, err)
	h.Close()
	a.Close()
	<-sent
	select {
	case <-h.exit:
	default:
		assert.Fail(t, "reader goroutine still running after Close")
	}
}
