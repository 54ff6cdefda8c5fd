package unixsock_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/internal/unixsock"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t testing.TB) (c1, c2 io.ReadWriteCloser) {
		path := filepath.Join(t.TempDir(), "s")
		ln, err := unixsock.Listen(path)
		require.NoError(t, err)
		defer ln.Close()
		accepted := make(chan io.ReadWriteCloser, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				c = nil
			}
			accepted <- c
		}()
		c1, err = unixsock.Dialer{}.Dial(context.Background(), path)
		require.NoError(t, err)
		c2 = <-accepted
		require.NotNil(t, c2)
		t.Cleanup(func() {
			c1.Close()
			c2.Close()
		})
		return c1, c2
	})
}
