package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"time"
)

// serverTLS holds the TLS flags of a listening command. They apply to
// tls://, wss:// and quic:// endpoints.
type serverTLS struct {
	cert, key string // the server's certificate chain and key (PEM files)
	clientCA  string // CA bundle that client certificates must chain to: mutual TLS
	generate  bool   // throwaway self-signed certificate
}

func (o *serverTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&o.cert, "cert", "", "server certificate chain, PEM `file` (tls://, wss://, quic://)")
	fs.StringVar(&o.key, "key", "", "server private key, PEM `file`")
	fs.StringVar(&o.clientCA, "client-ca", "", "require client certificates signed by the CAs in this PEM `file` (mutual TLS)")
	fs.BoolVar(&o.generate, "insecure-generate", false,
		"generate a throwaway self-signed certificate (quick tests; clients need --insecure)")
}

// config returns the server TLS configuration for e, or nil when e does
// not use TLS. host is added to a generated certificate's names.
func (o *serverTLS) config(e endpoint, log *slog.Logger) (*tls.Config, error) {
	if !e.needsTLS() {
		if o.cert != "" || o.clientCA != "" || o.generate {
			log.Warn("TLS flags ignored: the scheme does not use TLS", "scheme", e.scheme)
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case o.cert != "" || o.key != "":
		if o.cert == "" || o.key == "" {
			return nil, errors.New("--cert and --key go together")
		}
		if o.generate {
			return nil, errors.New("--insecure-generate and --cert are exclusive")
		}
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("load certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case o.generate:
		pair, err := selfSigned(certHosts(e.hostname()))
		if err != nil {
			return nil, err
		}
		log.Warn("serving a generated self-signed certificate; clients must use --insecure",
			"sha256", fingerprint(pair.Leaf))
		cfg.Certificates = []tls.Certificate{pair}
	default:
		return nil, fmt.Errorf("%s:// needs a certificate: give --cert and --key, or --insecure-generate", e.scheme)
	}
	if o.clientCA != "" {
		pool, err := loadPool(o.clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// clientTLS holds the TLS flags of a dialing command.
type clientTLS struct {
	ca                    string // CA bundle that verifies the server (default: system roots)
	clientCert, clientKey string // certificate presented to the server (mutual TLS)
	serverName            string
	insecure              bool
}

func (o *clientTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&o.ca, "ca", "", "verify the server with the CAs in this PEM `file` (default: system roots)")
	fs.StringVar(&o.clientCert, "client-cert", "", "client certificate chain for mutual TLS, PEM `file`")
	fs.StringVar(&o.clientKey, "client-key", "", "client private key for mutual TLS, PEM `file`")
	fs.StringVar(&o.serverName, "server-name", "", "expected server `name` (default: the URL's host)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's certificate (quick tests only)")
}

// config returns the client TLS configuration for e, or nil when e does
// not use TLS.
func (o *clientTLS) config(e endpoint, log *slog.Logger) (*tls.Config, error) {
	if !e.needsTLS() {
		if o.ca != "" || o.clientCert != "" || o.insecure {
			log.Warn("TLS flags ignored: the scheme does not use TLS", "scheme", e.scheme)
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.serverName}
	if o.ca != "" {
		pool, err := loadPool(o.ca)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.clientCert != "" || o.clientKey != "" {
		if o.clientCert == "" || o.clientKey == "" {
			return nil, errors.New("--client-cert and --client-key go together")
		}
		pair, err := tls.LoadX509KeyPair(o.clientCert, o.clientKey)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.insecure {
		log.Warn("not verifying the server's certificate (--insecure)")
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// certHosts returns the names a generated certificate covers: loopback,
// localhost, this machine's name and the listen host.
func certHosts(listenHost string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if ip := net.ParseIP(listenHost); listenHost != "" && (ip == nil || !ip.IsUnspecified()) {
		hosts = append(hosts, listenHost)
	}
	return hosts
}

// selfSigned generates an ECDSA P-256 certificate for hosts, valid for a
// day, that is its own CA: a client trusts it by putting it in RootCAs.
func selfSigned(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "netmux generated certificate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// fingerprint is the SHA-256 of a certificate, in hex.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
