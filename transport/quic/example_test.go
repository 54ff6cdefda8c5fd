package quic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/netmux/netmux/core"
	"github.com/netmux/netmux/transport"
	"github.com/netmux/netmux/transport/quic"
)

// selfSigned returns a server and a client TLS configuration sharing one
// self-signed ECDSA P-256 certificate for localhost and 127.0.0.1.
func selfSigned() (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{ // a nil SerialNumber gets a random one
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return server, client
}

func Example() {
	serverTLS, clientTLS := selfSigned()
	ctx := context.Background()

	// Server: QUIC listener on a free UDP port, sessions on top.
	ln, err := quic.Listen("127.0.0.1:0", serverTLS, nil)
	if err != nil {
		panic(err)
	}
	sl, err := transport.NewListener(ln, core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		sess, err := sl.Accept()
		if err != nil {
			return
		}
		defer sess.Close()
		st, err := sess.AcceptStream(ctx)
		if err != nil {
			return
		}
		io.Copy(st, st) // echo until the client half-closes
		st.Close()
	}()

	// Client: dial and talk over one netmux stream.
	sess, err := transport.Dial(ctx, quic.Dialer{TLSConfig: clientTLS}, ln.Addr().String(), core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Fprint(st, "hello over QUIC")
	st.CloseWrite()
	reply, err := io.ReadAll(st)
	fmt.Printf("%s %v\n", reply, err)

	sess.Close()
	<-served
	sl.Close()
	// Output: hello over QUIC <nil>
}
