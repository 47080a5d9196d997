package pageserver

import (
	"crypto/tls"
	"errors"
	"testing"
)

func TestListenAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:7000"} {
		if err := checkListenAddr(addr, false); err != nil {
			t.Errorf("%s without auth: %v", addr, err)
		}
	}
	for _, addr := range []string{":7000", "0.0.0.0:7000", "[::]:7000", "10.1.2.3:7000", "192.168.0.1:0"} {
		if err := checkListenAddr(addr, false); !errors.Is(err, ErrNeedAuth) {
			t.Errorf("%s without auth: %v, want ErrNeedAuth", addr, err)
		}
		if err := checkListenAddr(addr, true); err != nil {
			t.Errorf("%s with auth: %v", addr, err)
		}
	}
	if _, err := Listen(Config{Address: "0.0.0.0:0", Dir: t.TempDir()}); !errors.Is(err, ErrNeedAuth) {
		t.Errorf("Listen on every interface without auth: %v", err)
	}
	if authenticated(nil, &tls.Config{}) {
		t.Error("TLS without client certificates counts as authentication")
	}
	if !authenticated(nil, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}) || !authenticated(goodToken, nil) {
		t.Error("a token or client certificates do not count as authentication")
	}
}

// TestServeFrozen serves a process's pages until the restore reports it
// has them all, or until told to stop.
func TestServeFrozen(t *testing.T) {
	fx := inMemory(t, 21)
	s, err := Listen(Config{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); !errors.Is(err, errNothingToServe) {
		t.Fatalf("Serve without checkpoints: %v", err)
	}
	result := make(chan error, 1)
	served := make(chan bool, 1)
	go func() {
		ok, err := s.ServeFrozen(newProcessPages(t, fx), nil)
		served <- ok
		result <- err
	}()
	src := openSource(t, ClientConfig{Address: s.Addr().String()}, "live", fx)
	conformRange(t, src, fx, fx.base, fx.end())
	if err := src.Finish(); err != nil {
		t.Fatal(err)
	}
	if ok, err := <-served, <-result; err != nil || !ok {
		t.Fatalf("ServeFrozen after Finish: served %v, %v", ok, err)
	}

	s2, err := Listen(Config{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop)
	if ok, err := s2.ServeFrozen(newProcessPages(t, fx), stop); ok || !errors.Is(err, ErrStopped) {
		t.Fatalf("ServeFrozen stopped: served %v, %v", ok, err)
	}
}
