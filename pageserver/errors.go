package pageserver

import (
	"errors"
	"fmt"
)

// Sentinels. Errors returned by this package wrap one of them (or a
// *FrameError or *RemoteError, which match ErrProtocol and ErrRemote).
var (
	// ErrProtocol: the peer sent something this protocol does not allow.
	ErrProtocol = errors.New("page-server protocol violation")
	// ErrRemote: the server answered a request with an error frame.
	ErrRemote = errors.New("page server refused")
	// ErrAuth: authentication failed (wrong or missing token, or a
	// server that cannot prove it holds the token).
	ErrAuth = errors.New("page-server authentication failed")
	// ErrNoCheckpoint: the server holds no checkpoint of that name.
	ErrNoCheckpoint = errors.New("no such checkpoint on the page server")
	// ErrMismatch: the server's checkpoint of that name is another dump
	// than the local records describe.
	ErrMismatch = errors.New("page-server checkpoint is another dump")
	// ErrExists: a push names a checkpoint the server already holds.
	ErrExists = errors.New("checkpoint exists on the page server")
	// ErrUnavailable: the server could not be reached again within the
	// retry window.
	ErrUnavailable = errors.New("page server unavailable")
	// ErrBadName: a checkpoint name this protocol does not accept.
	ErrBadName = errors.New("bad checkpoint name")
	// ErrNeedAuth: a listen address off loopback without authentication.
	ErrNeedAuth = errors.New("listening off loopback needs authentication (--auth-token-file or --tls-cacert)")
	// ErrClosed: the client, pusher or server was closed.
	ErrClosed = errors.New("page-server connection closed")
	// ErrBadToken: a token file that cannot be used.
	ErrBadToken = errors.New("bad auth token file")
)

// errCode is the code of an error frame; the numbers are part of the
// protocol.
type errCode uint16

const (
	codeInternal    errCode = 1 // the server failed (store error, I/O)
	codeBadRequest  errCode = 2 // a request the server cannot serve
	codeAuth        errCode = 3 // authentication failed
	codeVersion     errCode = 4 // no common protocol version
	codeNoSuch      errCode = 5 // no checkpoint of that name
	codeMismatch    errCode = 6 // the checkpoint is another dump
	codeExists      errCode = 7 // push of a name that exists
	codeBusy        errCode = 8 // too many connections, or the name is being pushed
	codeUnavailable errCode = 9 // the server is shutting down
)

// codeErrs maps codes to the sentinels a client matches.
var codeErrs = map[errCode]error{
	codeAuth:     ErrAuth,
	codeNoSuch:   ErrNoCheckpoint,
	codeMismatch: ErrMismatch,
	codeExists:   ErrExists,
}

// RemoteError is an error frame received from the server.
type RemoteError struct {
	Code uint16
	Text string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("page server: %s (code %d)", e.Text, e.Code)
}

// Is matches ErrRemote and the sentinel of the code.
func (e *RemoteError) Is(target error) bool {
	return target == ErrRemote || (target != nil && codeErrs[errCode(e.Code)] == target)
}

// FrameError describes a frame the decoder rejected. It matches
// ErrProtocol.
type FrameError struct {
	Type   uint8
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("bad %s frame: %s", frameType(e.Type), e.Reason)
}

// Is makes errors.Is(err, ErrProtocol) true.
func (e *FrameError) Is(target error) bool { return target == ErrProtocol }

func badFrame(t uint8, format string, args ...any) error {
	return &FrameError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// serverError is what a handler returns to end a request with an error
// frame: the code and the text the client sees. err is logged.
type serverError struct {
	code errCode
	err  error
}

func (e *serverError) Error() string { return e.err.Error() }
func (e *serverError) Unwrap() error { return e.err }

func refuse(code errCode, err error) error { return &serverError{code: code, err: err} }

// codeOf returns the code for an error a handler returned.
func codeOf(err error) errCode {
	var se *serverError
	if errors.As(err, &se) {
		return se.code
	}
	if errors.Is(err, ErrProtocol) {
		return codeBadRequest
	}
	return codeInternal
}
