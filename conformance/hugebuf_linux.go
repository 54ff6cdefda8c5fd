package conformance

import (
	"math"
	"syscall"
)

// hugeZeroes returns n readable zero bytes that cost no memory: a private
// anonymous read-only mapping, whose pages all map the kernel's shared
// zero page. It returns nil where that cannot be had (n past int, or the
// mapping refused); release unmaps it.
func hugeZeroes(n uint64) (b []byte, release func()) {
	if n > math.MaxInt {
		return nil, func() {}
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, func() {}
	}
	return b, func() { syscall.Munmap(b) }
}
