//go:build !linux

package core

// lendPayload is false: off Linux the writer copies payload into the
// batch (see writev_linux.go).
const lendPayload = false

func (*sockIO) initWritev() {}

func (*sockIO) writev([][]byte) error { panic("netmux: writev is Linux only") }

func (*sockIO) tryWritev([][]byte) ([][]byte, error) { panic("netmux: writev is Linux only") }
