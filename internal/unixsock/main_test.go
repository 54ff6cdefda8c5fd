package unixsock_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// docs/transports.md shows this package's code verbatim; keep them equal.
func TestDocShowsThisCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/transports.md")
	require.NoError(t, err)
	for _, f := range []string{"unixsock.go", "unixsock_test.go"} {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, strings.Contains(string(doc), string(src)),
			"docs/transports.md must contain %s verbatim", f)
	}
}
