package conformance_test

import (
	"io"
	"testing"

	"github.com/netmux/netmux/conformance"
	"github.com/netmux/netmux/transport/mem"
)

func memPipe(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
	c1, c2 := mem.Pipe()
	t.Cleanup(func() {
		c1.Close()
		c2.Close()
	})
	return c1, c2
}

func TestMem(t *testing.T) {
	conformance.Run(t, memPipe)
}
