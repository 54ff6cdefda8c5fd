package ws

import (
	"crypto/tls"
	"time"
)

// DefaultPath is the path [Listen] serves the WebSocket endpoint on.
const DefaultPath = "/netmux"

// Option configures [NewHandler] and [Listen].
type Option func(*options)

type options struct {
	originPatterns []string
	closeTimeout   time.Duration
	path           string
	tlsConfig      *tls.Config
}

// WithOriginPatterns authorises cross-origin requests whose Origin host
// matches one of the patterns (path.Match syntax, case-insensitive; a
// pattern containing "://" is matched against scheme://host). Requests
// without an Origin header, which is what Go clients send, and requests
// whose Origin is the request's own Host are always accepted; others are
// refused with 403. This guards against cross-site use from browsers; it
// is not authentication.
func WithOriginPatterns(patterns ...string) Option {
	return func(o *options) { o.originPatterns = append(o.originPatterns, patterns...) }
}

// WithCloseTimeout bounds the close handshake of server-side connections
// (default [DefaultCloseTimeout]); see [Conn.Close].
func WithCloseTimeout(d time.Duration) Option {
	return func(o *options) { o.closeTimeout = d }
}

// WithPath sets the path [Listen] serves the endpoint on (default
// [DefaultPath]). It must begin with "/"; other paths are answered with
// 404. NewHandler ignores it: mount the Handler where you like.
func WithPath(path string) Option {
	return func(o *options) { o.path = path }
}

// WithTLSConfig makes [Listen] serve wss:// with cfg (which needs a
// certificate). When cfg.NextProtos is empty it is set to "http/1.1",
// since WebSocket upgrades need HTTP/1.1. NewHandler ignores it: TLS is
// the http.Server's business.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *options) { o.tlsConfig = cfg }
}
