package rebase_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The engine's errors are values a caller can test, and name no flags:
// the command words the advice.
func TestTypedErrors(t *testing.T) {
	w := newWorld(t)
	plain := w.movedApp("plain", rebasetest.AppSpec{Base: "base:stable", NoAnnotations: true})
	r := newRebaser()

	res := r.Rebase(w.ctx, "not a ref!")
	if !errors.Is(res.Err, rebase.ErrNotReference) || res.Reason != "not an image reference" {
		t.Errorf("not a reference: %v (%q)", res.Err, res.Reason)
	}

	res = r.Rebase(w.ctx, plain)
	var skip *rebase.SkipError
	if res.Action != rebase.Skipped || !errors.As(res.Err, &skip) || !errors.Is(res.Err, rebase.ErrNoBaseAnnotations) ||
		res.Reason != "no base annotations (org.opencontainers.image.base.name)" {
		t.Errorf("no annotations: %s %v (%q)", res.Action, res.Err, res.Reason)
	}
	if _, err := r.Plan(w.ctx, plain); !errors.As(err, &skip) {
		t.Errorf("Plan: %v, want a *SkipError", err)
	}

	res = r.Rebase(w.ctx, w.ref("nothere:v1"))
	var re *rebase.RegistryError
	if !errors.As(res.Err, &re) || re.Status != http.StatusNotFound {
		t.Errorf("missing image: %#v, want a RegistryError with status 404", res.Err)
	}

	// Plain HTTP to a registry that is not on loopback.
	res = r.Rebase(w.ctx, "10.255.255.1:5000/app:v1")
	if !errors.Is(res.Err, rebase.ErrPlainHTTP) {
		t.Errorf("plain HTTP: %v, want ErrPlainHTTP", res.Err)
	}
	for _, res := range []rebase.Result{res, r.Rebase(w.ctx, plain)} {
		if strings.Contains(res.Reason, "--") {
			t.Errorf("a library message names a flag: %q", res.Reason)
		}
	}

	if _, err := rebase.New(rebase.WithJobs(0)); err == nil || err.Error() != "jobs must be at least 1, not 0" {
		t.Errorf("jobs 0: %v", err)
	}
	if _, err := rebase.New(rebase.WithOldBase("x:1"), rebase.WithNewBase("NOT VALID")); err == nil || !strings.HasPrefix(err.Error(), `new base "NOT VALID": `) {
		t.Errorf("bad new base: %v", err)
	}
}
