//go:build !linux

package core

import "time"

// tcpMinRTT is Linux-only; elsewhere window auto-tuning uses ping samples.
func tcpMinRTT(fd uintptr) (time.Duration, bool) { return 0, false }
