package tls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPKI is an in-process certificate authority with a server leaf (for
// 127.0.0.1 and localhost) and a client leaf, all ECDSA P-256.
type testPKI struct {
	pool   *x509.CertPool // holds the CA
	server stdtls.Certificate
	client stdtls.Certificate
}

// newPKI creates a fresh CA and its two leaves.
func newPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	leaf := func(cn string, usage x509.ExtKeyUsage) stdtls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return stdtls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = leaf(name+" server", x509.ExtKeyUsageServerAuth)
	p.client = leaf(name+" client", x509.ExtKeyUsageClientAuth)
	return p
}

var (
	sharedOnce sync.Once
	shared     *testPKI
)

// sharedPKI returns one PKI for the whole test binary.
func sharedPKI(t testing.TB) *testPKI {
	sharedOnce.Do(func() { shared = newPKI(t, "netmux test") })
	return shared
}

// serverConfig serves p's server certificate.
func (p *testPKI) serverConfig() *stdtls.Config {
	return &stdtls.Config{Certificates: []stdtls.Certificate{p.server}}
}

// mtlsServerConfig also requires a client certificate issued by p.
func (p *testPKI) mtlsServerConfig() *stdtls.Config {
	return &stdtls.Config{
		Certificates: []stdtls.Certificate{p.server},
		ClientAuth:   stdtls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
	}
}

// clientConfig trusts p's CA and presents no certificate.
func (p *testPKI) clientConfig() *stdtls.Config {
	return &stdtls.Config{RootCAs: p.pool}
}

// mtlsClientConfig trusts p's CA and presents p's client certificate.
func (p *testPKI) mtlsClientConfig() *stdtls.Config {
	return &stdtls.Config{RootCAs: p.pool, Certificates: []stdtls.Certificate{p.client}}
}
