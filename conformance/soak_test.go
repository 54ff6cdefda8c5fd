package conformance_test

import (
	"testing"
	"time"

	"github.com/netmux/netmux/conformance"
)

func TestSoakMem(t *testing.T) {
	conformance.Soak(t, memPipe, 60*time.Second)
}
