package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"github.com/crlazy/crlazy/pageserver"
	"github.com/spf13/pflag"
)

// netFlags are the page-server flags that dump, restore and page-server
// share (criu's names where criu has them).
type netFlags struct {
	address   string
	port      int
	name      string
	tokenFile string
	tls       bool
	tlsCert   string
	tlsKey    string
	tlsCA     string
	fs        *pflag.FlagSet // to tell whether --port was given
}

func (n *netFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&n.address, "address", pageserver.DefaultAddress, "page server address (off loopback, a server needs --auth-token-file or --tls-cacert)")
	n.fs = fs
	fs.IntVar(&n.port, "port", 0, "page server port (required with the page server; a server may take 0: any free port)")
	fs.StringVar(&n.tokenFile, "auth-token-file", "", "file holding the shared token (at least 16 bytes, mode 0600)")
	fs.BoolVar(&n.tls, "tls", false, "use TLS (implied by the other --tls-* flags)")
	fs.StringVar(&n.tlsCert, "tls-cert", "", "TLS certificate (PEM): the server's, or the client's own")
	fs.StringVar(&n.tlsKey, "tls-key", "", "key of --tls-cert (PEM)")
	fs.StringVar(&n.tlsCA, "tls-cacert", "", "CA certificates (PEM) that sign the peer's certificate")
}

// addName adds --checkpoint-name, for the commands that name a checkpoint.
func (n *netFlags) addName(fs *pflag.FlagSet) {
	fs.StringVar(&n.name, "checkpoint-name", "", "name of the checkpoint on the page server (default: the base name of -D)")
}

var errNoPort = errors.New("--port is required with the page server")

// hasPort reports whether --port was given.
func (n *netFlags) hasPort() bool { return n.fs.Changed("port") }

func (n *netFlags) hostPort() (string, error) {
	if !n.hasPort() {
		return "", errNoPort
	}
	if n.port < 0 || n.port > 65535 {
		return "", fmt.Errorf("--port %d: not a port", n.port)
	}
	return net.JoinHostPort(n.address, strconv.Itoa(n.port)), nil
}

// checkpointName is --checkpoint-name, or the base name of the images
// directory.
func (n *netFlags) checkpointName(imagesDir string) (string, error) {
	name := n.name
	if name == "" {
		name = filepath.Base(filepath.Clean(imagesDir))
	}
	if err := pageserver.CheckName(name); err != nil {
		return "", fmt.Errorf("checkpoint name (set one with --checkpoint-name): %w", err)
	}
	return name, nil
}

func (n *netFlags) token() ([]byte, error) {
	if n.tokenFile == "" {
		return nil, nil
	}
	return pageserver.LoadToken(n.tokenFile)
}

// client returns the configuration to reach the page server.
func (n *netFlags) client(log *slog.Logger) (pageserver.ClientConfig, error) {
	cfg := pageserver.ClientConfig{Log: log}
	var err error
	if cfg.Address, err = n.hostPort(); err != nil {
		return cfg, err
	}
	if cfg.Token, err = n.token(); err != nil {
		return cfg, err
	}
	if n.tls || n.tlsCert != "" || n.tlsKey != "" || n.tlsCA != "" {
		cfg.TLS, err = pageserver.ClientTLS(n.tlsCert, n.tlsKey, n.tlsCA, n.address)
	}
	return cfg, err
}

// server returns the configuration of a server listening at the flags'
// address.
func (n *netFlags) server(log *slog.Logger) (pageserver.Config, error) {
	cfg := pageserver.Config{Log: log}
	var err error
	if cfg.Address, err = n.hostPort(); err != nil {
		return cfg, err
	}
	if cfg.Token, err = n.token(); err != nil {
		return cfg, err
	}
	switch {
	case n.tlsCert != "" && n.tlsKey != "":
		cfg.TLS, err = pageserver.ServerTLS(n.tlsCert, n.tlsKey, n.tlsCA)
	case n.tls || n.tlsCert != "" || n.tlsKey != "" || n.tlsCA != "":
		err = errors.New("a TLS server needs --tls-cert and --tls-key")
	}
	return cfg, err
}
