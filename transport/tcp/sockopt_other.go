//go:build !linux

package tcp

import "net"

// setNotSentLowat is a no-op where TCP_NOTSENT_LOWAT is not supported (or
// not yet wired up).
func setNotSentLowat(*net.TCPConn, int) error { return nil }
