//go:build !linux

package core

import "time"

// tcpInfo is Linux-only; elsewhere window auto-tuning uses ping samples
// and batches are not sized to the MSS.
func tcpInfo(fd uintptr) (minRTT time.Duration, ok bool, mss uint32) { return 0, false, 0 }
