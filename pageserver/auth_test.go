package pageserver

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/crlazy/crlazy/pageserver/pstest"
)

var (
	goodToken  = []byte("0123456789abcdef-good")
	otherToken = []byte("0123456789abcdef-other")
)

// tryOpen opens checkpoint ckpt of fx on s with cfg; it returns Open's
// error.
func tryOpen(t *testing.T, cfg ClientConfig, fx *fixture) error {
	t.Helper()
	src, err := Open(cfg, "ckpt", fx.openLocal(t))
	if err == nil {
		src.Close()
	}
	return err
}

func TestToken(t *testing.T) {
	fx := newFixture(4242, 1, 0x7f0000003000)
	s, log := startServer(t, Config{Dir: fx.checkpointDir(t, "ckpt"), Token: goodToken})
	cfg := client(s)
	cfg.Token = goodToken
	if err := tryOpen(t, cfg, fx); err != nil {
		t.Fatalf("right token: %v", err)
	}
	cases := []struct {
		token []byte
		log   string
	}{
		{otherToken, "client sent a wrong token"},
		{nil, ""},
	}
	for _, c := range cases {
		cfg.Token = c.token
		err := tryOpen(t, cfg, fx)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("token %q: %v, want ErrAuth", c.token, err)
		}
		if c.log != "" {
			log.waitFor(t, c.log)
		}
	}
	// A client without a token refuses the server before sending
	// anything; one that sends none anyway is refused by the server.
	testRawNoToken(t, s, log)
}

// testRawNoToken authenticates with an empty MAC.
func testRawNoToken(t *testing.T, s *Server, log *logBuf) {
	c := rawConn(t, s)
	c.send(tHello, 0, hello{min: 1, max: 1}.append(nil))
	c.expect(tWelcome)
	c.send(tAuth, 0, auth{}.append(nil))
	c.expectError(codeAuth)
	log.waitFor(t, "client sent no token")
}

func TestTokenServerWithout(t *testing.T) {
	fx := newFixture(4242, 1, 0x7f0000003000)
	s, _ := startServer(t, Config{Dir: fx.checkpointDir(t, "ckpt")})
	cfg := client(s)
	cfg.Token = goodToken
	if err := tryOpen(t, cfg, fx); !errors.Is(err, ErrAuth) {
		t.Fatalf("a client with a token accepted a server without: %v", err)
	}
}

func TestTLS(t *testing.T) {
	certs, err := pstest.WriteCerts(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(4242, 1, 0x7f0000003000)
	stls, err := ServerTLS(certs.ServerCert, certs.ServerKey, certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	s, log := startServer(t, Config{Dir: fx.checkpointDir(t, "ckpt"), TLS: stls})
	good := clientTLS(t, certs.ClientCert, certs.ClientKey, certs.CA)
	cfg := client(s)
	cfg.TLS = good
	if err := tryOpen(t, cfg, fx); err != nil {
		t.Fatalf("good certificates: %v", err)
	}
	bad := map[string]*tls.Config{
		"client cert of another CA": clientTLS(t, certs.OtherClientCert, certs.OtherClientKey, certs.CA),
		"no client cert":            clientTLS(t, "", "", certs.CA),
		"server not trusted":        clientTLS(t, certs.ClientCert, certs.ClientKey, certs.OtherCA),
		"plain TCP":                 nil,
	}
	for name, tc := range bad {
		cfg.TLS = tc
		if err := tryOpen(t, cfg, fx); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	log.waitFor(t, "tls handshake")
	log.waitFor(t, "certificate")
}

func TestTLSClientOnPlainServer(t *testing.T) {
	certs, err := pstest.WriteCerts(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(4242, 1, 0x7f0000003000)
	s, log := startServer(t, Config{Dir: fx.checkpointDir(t, "ckpt")})
	cfg := client(s)
	cfg.TLS = clientTLS(t, "", "", certs.CA)
	if err := tryOpen(t, cfg, fx); err == nil {
		t.Fatal("a TLS client opened a checkpoint on a plain server")
	}
	log.waitFor(t, "a TLS client on a server without TLS")
}

func clientTLS(t *testing.T, cert, key, ca string) *tls.Config {
	t.Helper()
	c, err := ClientTLS(cert, key, ca, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok, err := LoadToken(write("good", "0123456789abcdef\n", 0o600))
	if err != nil || string(tok) != "0123456789abcdef" {
		t.Fatalf("good token: %q, %v", tok, err)
	}
	for name, p := range map[string]string{
		"short":    write("short", "0123456789\n", 0o600),
		"readable": write("readable", "0123456789abcdef", 0o644),
		"missing":  filepath.Join(dir, "missing"),
	} {
		if _, err := LoadToken(p); err == nil {
			t.Errorf("%s token file accepted", name)
		}
	}
}
