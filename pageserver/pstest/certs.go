// Package pstest helps tests of the page server: it makes throw-away TLS
// certificates.
package pstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certLife is how long the certificates are valid.
const certLife = 24 * time.Hour

// Certs names PEM files written by WriteCerts: a CA, a server
// certificate signed by it, a client certificate signed by it, and a
// client certificate signed by another CA (which the server must refuse).
type Certs struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	OtherCA, OtherClientCert, OtherClientKey         string
}

// WriteCerts writes the certificates into dir; the server certificate is
// valid for hosts (IP addresses or names).
func WriteCerts(dir string, hosts ...string) (Certs, error) {
	c := Certs{}
	p := func(n string) string { return filepath.Join(dir, n) }
	ca, caKey, err := newCA("crlazy test CA", p("ca.pem"))
	if err != nil {
		return c, err
	}
	other, otherKey, err := newCA("another CA", p("other-ca.pem"))
	if err != nil {
		return c, err
	}
	c.CA, c.OtherCA = p("ca.pem"), p("other-ca.pem")
	c.ServerCert, c.ServerKey = p("server.pem"), p("server-key.pem")
	c.ClientCert, c.ClientKey = p("client.pem"), p("client-key.pem")
	c.OtherClientCert, c.OtherClientKey = p("other-client.pem"), p("other-client-key.pem")
	leaves := []struct {
		cert, key string
		parent    *x509.Certificate
		pkey      *ecdsa.PrivateKey
		server    bool
	}{
		{c.ServerCert, c.ServerKey, ca, caKey, true},
		{c.ClientCert, c.ClientKey, ca, caKey, false},
		{c.OtherClientCert, c.OtherClientKey, other, otherKey, false},
	}
	for i, l := range leaves {
		if err := newLeaf(int64(i+10), l.parent, l.pkey, l.server, hosts, l.cert, l.key); err != nil {
			return c, err
		}
	}
	return c, nil
}

func newCA(name, file string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(certLife),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, writePEM(file, "CERTIFICATE", der)
}

func newLeaf(serial int64, ca *x509.Certificate, caKey *ecdsa.PrivateKey, server bool, hosts []string, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("leaf %d", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(certLife),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(keyFile, "EC PRIVATE KEY", kb)
}

func writePEM(file, typ string, der []byte) error {
	return os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
