package tls_test

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
	nmtls "github.com/netmux/netmux/transport/tls"
)

func Example() {
	ctx := context.Background()
	cert, roots := selfSigned()

	// Server: an echo service over TLS on a free loopback port.
	ln, err := nmtls.Listen("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		panic(err)
	}
	srv := &transport.Server{
		Config: core.DefaultConfig(),
		Handler: func(sess *core.Session) {
			for {
				st, err := sess.AcceptStream(ctx)
				if err != nil {
					return
				}
				go func() {
					io.Copy(st, st)
					st.Close()
				}()
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// Client: TLS over TCP (the default Inner), verifying the server
	// against roots. ServerName comes from the address: 127.0.0.1.
	d := nmtls.Dialer{Config: &tls.Config{RootCAs: roots}}
	sess, err := transport.Dial(ctx, d, ln.Addr().String(), core.DefaultConfig())
	if err != nil {
		panic(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Fprint(st, "hello over TLS")
	st.CloseWrite()
	reply, err := io.ReadAll(st)
	fmt.Printf("%s %v\n", reply, err)

	sess.Close()
	srv.Shutdown(ctx)
	fmt.Println(<-served)
	// Output:
	// hello over TLS <nil>
	// netmux: server closed
}

// selfSigned returns a throwaway certificate for 127.0.0.1 and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
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
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
