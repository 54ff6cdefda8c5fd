package quic

import (
	"crypto/tls"
	"slices"
	"time"

	"github.com/quic-go/quic-go"
)

// ALPN is the application protocol negotiated when a tls.Config has no
// NextProtos. QUIC requires one on both sides.
const ALPN = "netmux/1"

// DefaultKeepAlivePeriod is the QUIC keepalive applied when
// quic.Config.KeepAlivePeriod is zero. quic-go caps it at half the
// negotiated MaxIdleTimeout (30 s by default).
const DefaultKeepAlivePeriod = 10 * time.Second

// tlsConfig returns a copy of c (an empty config if nil) with NextProtos
// defaulted to [ALPN].
func tlsConfig(c *tls.Config) *tls.Config {
	if c == nil {
		c = &tls.Config{}
	} else {
		c = c.Clone()
	}
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{ALPN}
	} else {
		c.NextProtos = slices.Clone(c.NextProtos)
	}
	return c
}

// quicConfig returns a copy of c (defaults if nil) with this package's
// defaults applied to fields left at zero:
//
//   - KeepAlivePeriod: DefaultKeepAlivePeriod (negative: no keepalive);
//   - MaxIncomingStreams: 1 on the server, none on the client, since the
//     session uses exactly one client-opened bidirectional stream;
//   - MaxIncomingUniStreams: none.
func quicConfig(c *quic.Config, server bool) *quic.Config {
	if c == nil {
		c = &quic.Config{}
	} else {
		c = c.Clone()
	}
	switch {
	case c.KeepAlivePeriod == 0:
		c.KeepAlivePeriod = DefaultKeepAlivePeriod
	case c.KeepAlivePeriod < 0:
		c.KeepAlivePeriod = 0
	}
	if c.MaxIncomingStreams == 0 {
		if server {
			c.MaxIncomingStreams = 1
		} else {
			c.MaxIncomingStreams = -1
		}
	}
	if c.MaxIncomingUniStreams == 0 {
		c.MaxIncomingUniStreams = -1
	}
	return c
}
