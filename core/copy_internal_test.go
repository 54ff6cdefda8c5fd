package core

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCopyBytes checks copyBytes against copy for every pairing of
// source and destination alignment, around the size where the split
// applies, and for slices of unequal length.
func TestCopyBytes(t *testing.T) {
	src := make([]byte, 8<<10+64)
	for i := range src {
		src[i] = byte(i*7 + i>>8)
	}
	for _, n := range []int{0, 1, 8, 9, 2047, 2048, 2049, 4096 + 3} {
		for so := range 16 {
			for do := range 16 {
				want := make([]byte, n+32)
				got := make([]byte, n+32)
				wn := copy(want[do:do+n], src[so:so+n+5])
				gn := copyBytes(got[do:do+n], src[so:so+n+5])
				require.Equal(t, wn, gn, "n=%d src+%d dst+%d", n, so, do)
				require.Equal(t, want, got, "n=%d src+%d dst+%d", n, so, do)
			}
		}
	}
	// A shorter source than destination.
	dst := make([]byte, 4096)
	require.Equal(t, 3000, copyBytes(dst, src[3:3003]))
	require.Equal(t, src[3:3003], dst[:3000])
}

// BenchmarkCopyBytes compares copy and copyBytes for a 32 KiB copy from a
// source off an 8-byte boundary into an aligned destination: the case
// the split is for. With a source on the boundary both should be equal.
func BenchmarkCopyBytes(b *testing.B) {
	src := make([]byte, 1<<20+64)
	dst := make([]byte, 1<<20+64)
	const n = 32 << 10
	for _, off := range []int{0, 12} {
		for _, f := range []struct {
			name string
			copy func(dst, src []byte) int
		}{{"copy", func(d, s []byte) int { return copy(d, s) }}, {"copyBytes", copyBytes}} {
			b.Run(fmt.Sprintf("%s/src+%d", f.name, off), func(b *testing.B) {
				b.SetBytes(n)
				o := 0
				for b.Loop() {
					f.copy(dst[o:o+n], src[o+off:o+off+n])
					o = (o + n) % (1 << 20)
				}
			})
		}
	}
}
