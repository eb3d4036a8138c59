package linestream_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// fake "rebases" a reference by appending @sha256:<64 x's>, after a random
// pause, and counts the references it was asked for.
type fake struct {
	mu    sync.Mutex
	asked map[string]int
}

func (f *fake) Rebase(ctx context.Context, ref string) rebase.Result {
	time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
	f.mu.Lock()
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	f.asked[ref]++
	f.mu.Unlock()
	if strings.HasPrefix(ref, "fail/") {
		return rebase.Result{Input: ref, Output: ref, Action: rebase.Failed, Reason: "no"}
	}
	return rebase.Result{Input: ref, Output: ref + "@sha256:" + strings.Repeat("x", 64), Action: rebase.Rebased}
}

// One line out for every line in, in order, whatever finishes first; the
// same reference worked on once; blank and # lines echoed.
func ExampleStream_Run() {
	in := "ghcr.io/acme/a:v1\n\n# a comment\n  ghcr.io/acme/b:v1\nghcr.io/acme/a:v1\nfail/c:v1\n"
	sum, err := linestream.Stream{Jobs: 4}.Run(context.Background(), &fake{}, strings.NewReader(in), os.Stdout)
	fmt.Println(sum, err)
	// Output:
	// ghcr.io/acme/a:v1@sha256:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
	//
	// # a comment
	//   ghcr.io/acme/b:v1@sha256:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
	// ghcr.io/acme/a:v1@sha256:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
	// fail/c:v1
	// rebased 3, up to date 0, skipped 0, failed 1 <nil>
}

func TestOrderAndDedupe(t *testing.T) {
	var in []string
	for i := range 200 {
		in = append(in, fmt.Sprintf("r/%d:v1", i%50))
	}
	f := &fake{}
	var out strings.Builder
	var seen []int
	sum, err := linestream.Stream{Jobs: 8, Each: func(n int, _ rebase.Result) { seen = append(seen, n) }}.
		Run(context.Background(), f, strings.NewReader(strings.Join(in, "\n")), &out)
	if err != nil || sum.Rebased != 200 {
		t.Fatalf("%s %v", sum, err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, l := range in {
		if got[i] != l+"@sha256:"+strings.Repeat("x", 64) {
			t.Fatalf("line %d: %q, want %q rebased", i+1, got[i], l)
		}
		if seen[i] != i+1 {
			t.Fatalf("Each saw line %d at %d", seen[i], i+1)
		}
	}
	for ref, n := range f.asked {
		if n != 1 {
			t.Errorf("%s worked on %d times", ref, n)
		}
	}
}

// Stop: no new line is taken; what was taken is answered.
func TestStop(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	var out strings.Builder
	sum, err := linestream.Stream{Stop: stop}.Run(context.Background(), &fake{}, strings.NewReader("a:1\nb:2\n"), &out)
	if err != nil || len(sum.Results) != 0 || out.String() != "" {
		t.Errorf("stopped before the first line: %s %v, output %q", sum, err, out.String())
	}
}

// Ended: once the input has ended, the distinct references taken (not the
// blank, comment or repeated lines); never while it is still open.
func TestEnded(t *testing.T) {
	var ended []int
	in := "r/a:v1\n\n# c\nr/b:v1\nr/a:v1\nr/c:v1"
	_, err := linestream.Stream{Jobs: 2, Ended: func(n int) { ended = append(ended, n) }}.
		Run(context.Background(), &fake{}, strings.NewReader(in), io.Discard)
	if err != nil || fmt.Sprint(ended) != "[3]" {
		t.Errorf("Ended %v (%v), want [3]", ended, err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	go io.WriteString(pw, "r/a:v1\n")
	ended = nil
	linestream.Stream{Ended: func(n int) { ended = append(ended, n) }}.Run(ctx, &fake{}, pr, io.Discard)
	if ended != nil {
		t.Errorf("Ended %v on an input still open", ended)
	}
}
