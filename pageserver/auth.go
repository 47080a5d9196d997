package pageserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
)

// Token rules.
const (
	// minTokenLen is the shortest token accepted: 16 bytes.
	minTokenLen = 16
	// maxTokenLen bounds a token file.
	maxTokenLen = 4 << 10
	// tokenFilePerm: a token file must not be readable by group or others.
	tokenFilePerm = 0o077
)

// Labels of the two MACs, so that one can never stand for the other.
const (
	clientLabel = "crlazy page-server v1 client\x00"
	serverLabel = "crlazy page-server v1 server\x00"
)

// LoadToken reads a shared token from path: the file's bytes without
// trailing white space, at least 16 bytes, in a file only its owner may
// read.
func LoadToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	switch {
	case st.Mode().Perm()&tokenFilePerm != 0:
		return nil, fmt.Errorf("token file %s has mode %v, readable by others: %w", path, st.Mode().Perm(), ErrBadToken)
	case st.Size() > maxTokenLen:
		return nil, fmt.Errorf("token file %s: %d bytes, at most %d: %w", path, st.Size(), maxTokenLen, ErrBadToken)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) < minTokenLen {
		return nil, fmt.Errorf("token file %s: %d bytes, at least %d: %w", path, len(b), minTokenLen, ErrBadToken)
	}
	return b, nil
}

func mac(token []byte, label string, a, b []byte) [macLen]byte {
	h := hmac.New(sha256.New, token)
	h.Write([]byte(label))
	h.Write(a)
	h.Write(b)
	var out [macLen]byte
	copy(out[:], h.Sum(nil))
	return out
}

// clientMAC is what a client proves it holds the token with.
func clientMAC(token []byte, serverNonce, clientNonce [nonceLen]byte) [macLen]byte {
	return mac(token, clientLabel, serverNonce[:], clientNonce[:])
}

// serverProof is what the server proves it holds the token with.
func serverProof(token []byte, clientNonce, serverNonce [nonceLen]byte) [macLen]byte {
	return mac(token, serverLabel, clientNonce[:], serverNonce[:])
}

func newNonce() ([nonceLen]byte, error) {
	var n [nonceLen]byte
	_, err := rand.Read(n[:])
	return n, err
}
