package registry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/rebasekit/rebasekit/internal/retry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// RegistryError is a registry's answer (or the lack of one) worded for the
// person reading it: what was asked for and what the registry said, without
// request URLs. Status is the HTTP status, 0 when there was no answer. It
// unwraps to the underlying error (a *transport.Error, a network error).
type RegistryError struct {
	Status int
	msg    string
	err    error
}

func (e *RegistryError) Error() string { return e.msg }
func (e *RegistryError) Unwrap() error { return e.err }

// WaitError is a registry that asks to be left alone (Retry-After, or
// its pull budget's window) for longer than Options.MaxRetryWait allows:
// the operation failed instead of waiting.
type WaitError = retry.WaitError

// IsNotFound reports whether err is a registry 404 (or the equivalent
// MANIFEST_UNKNOWN/NAME_UNKNOWN/BLOB_UNKNOWN codes).
func IsNotFound(err error) bool {
	if errors.Is(err, store.ErrNotFound) {
		return true // another store's absence (an OCI layout's)
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, e := range terr.Errors {
		switch e.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return true
		}
	}
	return false
}

// IsAuth reports whether err is a 401/403 from the registry.
func IsAuth(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden)
}

// Described words err as msg, keeping its status.
func Described(msg string, err error) *RegistryError {
	e := &RegistryError{msg: msg, err: err}
	var terr *transport.Error
	if errors.As(err, &terr) {
		e.Status = terr.StatusCode
	}
	return e
}

// Describe words a registry error for the person reading stderr: what was
// asked for, then what the registry said, without the request URL and the
// detail maps of go-containerregistry's errors (map[Name:… Revision:…]).
func Describe(what string, err error) error {
	var d *RegistryError
	if errors.As(err, &d) {
		return fmt.Errorf("%s: %w", what, err) // already worded
	}
	var dm *DigestMismatchError
	switch {
	case errors.As(err, &dm):
		return Described(fmt.Sprintf("%s: %s", what, dm), err)
	case IsNotFound(err):
		return Described(fmt.Sprintf("%s not found (%s)", what, Text(err)), err)
	case IsAuth(err):
		var terr *transport.Error
		errors.As(err, &terr)
		verb := "not authorized"
		if terr.StatusCode == http.StatusForbidden {
			verb = "access denied"
		}
		return Described(fmt.Sprintf("%s: %s (%s): check the credentials for %s in the docker config (docker login, credential helpers, DOCKER_CONFIG)",
			what, verb, Text(err), registryOf(terr)), err)
	}
	return Described(fmt.Sprintf("%s: %s", what, Text(err)), err)
}

// Text is what a registry error says: the status and the error
// codes with their messages ("404 Not Found: MANIFEST_UNKNOWN: manifest
// unknown"); other errors as they are.
func Text(err error) string {
	var werr *WaitError
	if errors.As(err, &werr) {
		return werr.Error() // worded already, with the answer that asked
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err.Error()
	}
	s := fmt.Sprintf("%d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
	for i, d := range terr.Errors {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		s += sep + string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
	}
	return s
}

func registryOf(terr *transport.Error) string {
	if terr.Request != nil && terr.Request.URL != nil {
		return terr.Request.URL.Host
	}
	return "the registry"
}

// Status is the HTTP status of the registry's answer err is, 0 when err is
// not one.
func Status(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}
