package pageserver

import (
	"crypto/tls"
	"fmt"
	"net"
)

// DefaultAddress is where a page server listens unless told otherwise.
const DefaultAddress = "127.0.0.1"

// authenticated reports whether peers must prove who they are: a shared
// token, or TLS that verifies client certificates.
func authenticated(token []byte, tc *tls.Config) bool {
	return len(token) > 0 || (tc != nil && tc.ClientAuth == tls.RequireAndVerifyClientCert)
}

// checkListenAddr refuses a listen address that is not on loopback unless
// peers are authenticated: an empty host (every interface) counts as off
// loopback, and a name must resolve to loopback addresses only.
func checkListenAddr(addr string, auth bool) error {
	if auth {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	ips, err := resolve(host)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("listen address %q (%v): %w", addr, ip, ErrNeedAuth)
		}
	}
	return nil
}

func resolve(host string) ([]net.IP, error) {
	if host == "" {
		return []net.IP{net.IPv4zero}, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	return net.LookupIP(host)
}
