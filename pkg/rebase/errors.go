package rebase

import (
	"errors"
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/registry"
)

// ErrNotReference is the failure of an input that is not an image
// reference.
var ErrNotReference = errors.New("not an image reference")

// ErrNoBaseAnnotations is the reason an image that records no base (and was
// given none with WithOldBase/WithNewBase) is skipped.
var ErrNoBaseAnnotations = errors.New("no base annotations (" + AnnotationBaseName + ")")

// ErrPlainHTTP is the failure of a request in plain HTTP to a registry that
// is not on a loopback address, without WithInsecure.
var ErrPlainHTTP = registry.ErrPlainHTTP

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
// person reading it (registry.RegistryError).
type RegistryError = registry.RegistryError

// DigestMismatchError is a manifest whose bytes do not have the digest they
// should (registry.DigestMismatchError).
type DigestMismatchError = registry.DigestMismatchError

// BlobSizeError is a blob whose bytes are not as many as the descriptor
// that names it says (registry.BlobSizeError).
type BlobSizeError = registry.BlobSizeError

// describe words a registry error for the person reading stderr
// (registry.Describe).
func describe(what string, err error) error { return registry.Describe(what, err) }

// described words err as msg, keeping its status (registry.Described).
func described(msg string, err error) *RegistryError { return registry.Described(msg, err) }

// isNotFound reports whether err is a registry 404 or its equivalents
// (registry.IsNotFound).
func isNotFound(err error) bool { return registry.IsNotFound(err) }
