package rebase_test

import (
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The second round of shapes that made the engine push a wrong image and
// report success, or miss a case (issue 16).

// 7. Host names are case-insensitive: LOCALHOST:PORT is loopback, answered
// in plain HTTP as localhost:PORT is, and the output is spelled like the
// input.
func TestUppercaseLocalhostIsLoopback(t *testing.T) {
	w := newWorld(t)
	app := w.movedApp("app", rebasetest.AppSpec{Base: "base:stable"})
	_, port, _ := strings.Cut(w.reg.Host, ":")
	in := strings.Replace(app, w.reg.Host, "LOCALHOST:"+port, 1)
	res := newRebaser().Rebase(w.ctx, in)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s (%s)", in, res.Action, res.Reason)
	}
	if !strings.HasPrefix(res.Output, "LOCALHOST:"+port+"/app@sha256:") {
		t.Errorf("output %q is not spelled like the input %q", res.Output, in)
	}
	w.verify(strings.Replace(res.Output, "LOCALHOST:"+port, w.reg.Host, 1))
}
