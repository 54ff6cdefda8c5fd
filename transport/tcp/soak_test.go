package tcp_test

import (
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
)

// TestSoak churns thousands of streams from both sides over loopback TCP
// for a minute (skipped with -short).
func TestSoak(t *testing.T) {
	conformance.Soak(t, pipe, 60*time.Second)
}
