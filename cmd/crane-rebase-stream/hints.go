package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// Hints: the command layer's words for what a person should do next, where
// the engine's error is right but not enough.

// openInput opens the FILE argument. When it does not exist but reads as an
// image reference (crane's habit: `crane rebase REF`), the error says how to
// give a reference: on standard input.
func openInput(arg string) (*os.File, error) {
	f, err := os.Open(arg)
	if err == nil {
		return f, nil
	}
	if errors.Is(err, fs.ErrNotExist) && looksLikeRef(arg) {
		return nil, fmt.Errorf("%w; if %s is an image, give it on standard input: echo %s | crane-rebase-stream -", err, arg, arg)
	}
	return nil, err
}

// looksLikeRef: the argument parses as a reference and is not named like a
// file of references (images.txt, deploy/refs.list).
func looksLikeRef(arg string) bool {
	if _, err := name.ParseReference(arg); err != nil {
		return false
	}
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".txt", ".list", ".lst", ".yaml", ".yml", ".json", ".out", ".in", ".refs":
		return false
	}
	return true
}

// unreachable rewords a failure to connect to a registry, which
// go-containerregistry reports as the https and the http attempt joined, as
// "registry HOST unreachable: connection refused". ok is false for any other
// failure.
func unreachable(err error) (msg string, ok bool) {
	if err == nil {
		return "", false
	}
	var why string
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		why = "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		why = "network unreachable"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		why = "no such host"
	default:
		return "", false
	}
	host := ""
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			host = u.Host
		}
	}
	if host == "" {
		var oerr *net.OpError
		if errors.As(err, &oerr) && oerr.Addr != nil {
			host = oerr.Addr.String()
		}
	}
	if host == "" {
		return "", false
	}
	return fmt.Sprintf("registry %s unreachable: %s", host, why), true
}

// failureLines is what stderr says about a failed line. An unreachable
// registry gets one short line (the raw error with -v); anything else the
// engine's message.
func failureLines(res rebase.Result, verbose bool) string {
	if msg, ok := unreachable(res.Err); ok {
		s := fmt.Sprintf("%s: error: %s", res.Input, msg)
		if verbose {
			s += fmt.Sprintf("\n%s:   details: %s", res.Input, res.Reason)
		} else {
			s += " (-v for details)"
		}
		return s
	}
	return resultMessage(res, verbose)
}

// looksLikeYAML: a line no reference can be (references hold no blanks and
// do not end in a colon) and that YAML often is: `key: value`, `key:`,
// `- item`, a document marker.
func looksLikeYAML(line string) bool {
	t := strings.TrimSpace(line)
	switch {
	case t == "---" || t == "..." || strings.HasPrefix(t, "--- "):
		return true
	case strings.HasPrefix(t, "- "):
		return true
	case strings.HasSuffix(t, ":") || strings.Contains(t, ": "):
		return true
	}
	return false
}

// yamlHint is said once, at the first line that looks like YAML.
const yamlHint = "this looks like YAML, not image references: run ko-extract first (ko-extract -f FILE | crane-rebase-stream -); lines that are not references are echoed unchanged"

// stdinHint is said when the references are to be typed on a terminal.
const stdinHint = "reading image references from standard input, one a line (Ctrl-D ends it; see --help)"
