package rebase

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/rebasekit/rebasekit/internal/retry"
)

// ErrNotReference is the failure of an input that is not an image
// reference.
var ErrNotReference = errors.New("not an image reference")

// ErrNoBaseAnnotations is the reason an image that records no base (and was
// given none with WithOldBase/WithNewBase) is skipped.
var ErrNoBaseAnnotations = errors.New("no base annotations (" + AnnotationBaseName + ")")

// ErrPlainHTTP is the failure of a request in plain HTTP to a registry that
// is not on a loopback address, without WithInsecure.
var ErrPlainHTTP = retry.ErrPlainHTTP

// SkipError is a reason not to rebase an image that is not a failure (no
// base annotations, a base pinned by digest); with WithStrict it fails the
// image. Err, when set, is a sentinel such as ErrNoBaseAnnotations.
type SkipError struct {
	Reason string
	Err    error
}

func (e *SkipError) Error() string { return e.Reason }
func (e *SkipError) Unwrap() error { return e.Err }

func skipf(format string, args ...any) error { return &SkipError{Reason: fmt.Sprintf(format, args...)} }

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

// isNotFound reports whether err is a registry 404 (or the equivalent
// MANIFEST_UNKNOWN/NAME_UNKNOWN/BLOB_UNKNOWN codes).
func isNotFound(err error) bool {
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

// isAuth reports whether err is a 401/403 from the registry.
func isAuth(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden)
}

// described words err as msg, keeping its status.
func described(msg string, err error) *RegistryError {
	e := &RegistryError{msg: msg, err: err}
	var terr *transport.Error
	if errors.As(err, &terr) {
		e.Status = terr.StatusCode
	}
	return e
}

// describe words a registry error for the person reading stderr: what was
// asked for, then what the registry said, without the request URL and the
// detail maps of go-containerregistry's errors (map[Name:… Revision:…]).
func describe(what string, err error) error {
	var d *RegistryError
	if errors.As(err, &d) {
		return fmt.Errorf("%s: %w", what, err) // already worded
	}
	var dm *DigestMismatchError
	switch {
	case errors.As(err, &dm):
		return described(fmt.Sprintf("%s: %s", what, dm), err)
	case isNotFound(err):
		return described(fmt.Sprintf("%s not found (%s)", what, registryText(err)), err)
	case isAuth(err):
		var terr *transport.Error
		errors.As(err, &terr)
		verb := "not authorized"
		if terr.StatusCode == http.StatusForbidden {
			verb = "access denied"
		}
		return described(fmt.Sprintf("%s: %s (%s): check the credentials for %s in the docker config (docker login, credential helpers, DOCKER_CONFIG)",
			what, verb, registryText(err), registryOf(terr)), err)
	}
	return described(fmt.Sprintf("%s: %s", what, registryText(err)), err)
}

// registryText is what a registry error says: the status and the error
// codes with their messages ("404 Not Found: MANIFEST_UNKNOWN: manifest
// unknown"); other errors as they are.
func registryText(err error) string {
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
