//go:build !unix

package core

import (
	"io"
	"net"
)

// sockIO is not used off unix: the session reads and writes through the
// connection (see sockio.go).
type sockIO struct{}

func newSockIO(*net.TCPConn, io.Reader, []bufferedHolder) *sockIO { return nil }

func (*sockIO) Read([]byte) (int, error)           { panic("netmux: no direct socket I/O here") }
func (*sockIO) readLent(*frameReader) (int, error) { panic("netmux: no direct socket I/O here") }
func (*sockIO) throughWrappers() bool              { panic("netmux: no direct socket I/O here") }
func (*sockIO) upstreamRead([]byte) (int, error)   { panic("netmux: no direct socket I/O here") }
func (*sockIO) write([]byte) error                 { panic("netmux: no direct socket I/O here") }
func (*sockIO) tryWrite([]byte) ([]byte, error)    { panic("netmux: no direct socket I/O here") }
func (*sockIO) setOnFull(func([][]byte) [][]byte)  {}
