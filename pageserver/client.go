package pageserver

import (
	"crypto/hmac"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/crlazy/crlazy/images"
)

// Client timing.
const (
	// dialTimeout bounds a TCP connect.
	dialTimeout = 5 * time.Second
	// replyTimeout: a reply, or the next frame of a stream, that takes
	// longer than this counts as a lost connection (a server that hangs,
	// or a network that drops everything without a reset).
	replyTimeout = 10 * time.Second
)

// ClientConfig says how to reach a page server. Zero values are
// documented per field.
type ClientConfig struct {
	// Address is the server's host:port.
	Address string
	// Token, if set, is proven to the server, and the server must prove
	// it too; nil: the server must not ask for one.
	Token []byte
	// TLS, if set, wraps every connection (see ClientTLS); nil: plain TCP.
	TLS *tls.Config
	// RetryWindow is how long a lost connection is retried. 0:
	// DefaultRetryWindow.
	RetryWindow time.Duration
	// Log receives reconnections; nil discards them.
	Log *slog.Logger
}

func (cfg *ClientConfig) logger() *slog.Logger {
	if cfg.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg.Log
}

func (cfg *ClientConfig) retrier() retrier {
	w := cfg.RetryWindow
	if w == 0 {
		w = DefaultRetryWindow
	}
	return retrier{window: w}
}

// dial opens a connection for o: TCP (and TLS), hello, authentication
// and OPEN. It returns the connection and the checkpoint's chunk size.
func (cfg *ClientConfig) dial(o openReq) (*conn, uint32, error) {
	nc, err := net.DialTimeout("tcp", cfg.Address, dialTimeout)
	if err != nil {
		return nil, 0, err
	}
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		nc.Close()
		return nil, 0, err
	}
	if cfg.TLS != nil {
		t := tls.Client(nc, cfg.TLS)
		if err := t.Handshake(); err != nil {
			nc.Close()
			return nil, 0, fmt.Errorf("tls handshake: %w", err)
		}
		nc = t
	}
	c := newConn(nc, fromServer, writeTimeout)
	size, err := cfg.handshake(c, o)
	if err == nil {
		err = c.deadline(time.Time{})
	}
	if err != nil {
		c.close()
		return nil, 0, err
	}
	return c, size, nil
}

func (cfg *ClientConfig) handshake(c *conn, o openReq) (uint32, error) {
	var buf [maxOpenPayload]byte
	if err := c.send(tHello, 0, hello{min: minProtocolVersion, max: ProtocolVersion}.append(nil)); err != nil {
		return 0, err
	}
	p, err := c.expect(tWelcome, 0, buf[:])
	if errors.Is(err, io.EOF) && cfg.TLS == nil {
		return 0, fmt.Errorf("hello: the server hung up (does it use TLS? then connect with TLS): %w", err)
	}
	if err != nil {
		return 0, fmt.Errorf("hello: %w", err)
	}
	w, err := parseWelcome(p)
	if err != nil {
		return 0, err
	}
	if w.version < minProtocolVersion || w.version > ProtocolVersion {
		return 0, badFrame(byte(tWelcome), "server chose version %d", w.version)
	}
	if err := cfg.authenticate(c, w, buf[:]); err != nil {
		return 0, err
	}
	const openID = 1
	if err := c.send(tOpen, openID, o.append(nil)); err != nil {
		return 0, err
	}
	if p, err = c.expect(tOpened, openID, buf[:]); err != nil {
		return 0, fmt.Errorf("open checkpoint %s: %w", o.name, err)
	}
	size := binary.BigEndian.Uint32(p)
	if err := images.CheckChunkSize(size); err != nil {
		return 0, badFrame(byte(tOpened), "%v", err)
	}
	return size, nil
}

// authenticate answers the server's challenge and checks its proof.
func (cfg *ClientConfig) authenticate(c *conn, w welcome, buf []byte) error {
	asks := w.flags&welcomeToken != 0
	switch {
	case asks && len(cfg.Token) == 0:
		return fmt.Errorf("the server asks for a token and none is configured: %w", ErrAuth)
	case !asks && len(cfg.Token) > 0:
		return fmt.Errorf("the server does not ask for the configured token (not the expected server?): %w", ErrAuth)
	}
	a := auth{}
	var err error
	if a.nonce, err = newNonce(); err != nil {
		return err
	}
	if asks {
		a.mac = clientMAC(cfg.Token, w.nonce, a.nonce)
	}
	if err := c.send(tAuth, 0, a.append(nil)); err != nil {
		return err
	}
	p, err := c.expect(tReady, 0, buf)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if asks {
		want := serverProof(cfg.Token, a.nonce, w.nonce)
		if !hmac.Equal(p, want[:]) {
			return fmt.Errorf("the server cannot prove it holds the token: %w", ErrAuth)
		}
	}
	return nil
}
