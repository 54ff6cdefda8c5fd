package core

import (
	"runtime"
	"unsafe"
)

// copyBytes is copy for the data path's large byte copies. On amd64 the
// runtime's memmove uses REP MOVSQ for copies of 2 KiB or more whenever
// the destination is 16-byte aligned, whatever the source's alignment,
// and on the CPUs we measured REP MOVSQ from a source off an 8-byte
// boundary runs at a third of the speed of the vector loop used
// otherwise (13-16 GB/s against 40-43 GB/s, 32 KiB copies). That is the
// common case here: payload sits at arbitrary offsets in the transport
// read buffer and lands at the start of the application's buffer. Moving
// the first 8 bytes on their own leaves the rest with a destination off
// the 16-byte boundary, which takes the vector loop.
func copyBytes(dst, src []byte) int {
	if runtime.GOARCH == "amd64" && len(dst) >= 2048 && len(src) >= 2048 &&
		uintptr(unsafe.Pointer(&dst[0]))&15 == 0 && uintptr(unsafe.Pointer(&src[0]))&7 != 0 {
		copy(dst[:8], src)
		return 8 + copy(dst[8:], src[8:])
	}
	return copy(dst, src)
}
