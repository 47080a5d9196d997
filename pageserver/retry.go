package pageserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// Retry timing.
const (
	// DefaultRetryWindow is how long a client keeps trying to reach the
	// server again after a connection is lost, before the operation fails
	// with ErrUnavailable (and a lazy restore kills its process).
	DefaultRetryWindow = 10 * time.Second
	retryBackoffMin    = 20 * time.Millisecond
	retryBackoffMax    = 500 * time.Millisecond
)

// userError carries an error returned by a caller's callback through the
// retry loops untouched: it is never retried.
type userError struct{ err error }

func (e *userError) Error() string { return e.err.Error() }

// retryable reports whether err may go away by connecting again: lost or
// refused connections, timeouts, a busy server. Refusals (no such
// checkpoint, authentication, a damaged store) and protocol violations
// do not.
func retryable(err error) bool {
	var re *RemoteError
	var ue *userError
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ue), errors.Is(err, ErrProtocol), errors.Is(err, ErrAuth),
		errors.Is(err, ErrClosed), errors.As(err, &cv):
		return false
	case errors.As(err, &re):
		return re.Code == uint16(codeBusy) || re.Code == uint16(codeUnavailable)
	}
	return true
}

// retrier paces the attempts of one operation.
type retrier struct {
	window  time.Duration
	first   time.Time // first failure
	backoff time.Duration
}

// again returns nil, after a pause, if the operation that failed with err
// may be tried again; otherwise the error to give up with.
func (r *retrier) again(what string, err error) error {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.err
	}
	if !retryable(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	now := time.Now()
	if r.first.IsZero() {
		r.first, r.backoff = now, retryBackoffMin
	}
	if now.Sub(r.first) >= r.window {
		return fmt.Errorf("%s: no answer for %v: %w: %w", what, r.window, ErrUnavailable, err)
	}
	time.Sleep(min(r.backoff, r.first.Add(r.window).Sub(now)))
	r.backoff = min(2*r.backoff, retryBackoffMax)
	return nil
}
