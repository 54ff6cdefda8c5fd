package core

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStreamSize keeps a Stream within the 320-byte allocation size class
// on 64-bit platforms: the next class is 352, 64 bytes more per stream
// across both ends of the idle benchmark (whose target is 1,200).
func TestStreamSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	assert.LessOrEqual(t, unsafe.Sizeof(Stream{}), uintptr(320))
}
