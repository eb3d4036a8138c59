package rebase_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// unreachable fails every request at once, like a registry that is not there.
type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no registry in this test")
}

// FuzzStreamLines: the reference-line protocol answers exactly one line for
// every line in, in order, whatever the bytes; when no image can be reached,
// every answer is the input line itself (an echoed ref is always safe).
func FuzzStreamLines(f *testing.F) {
	for _, s := range []string{
		"ghcr.io/a/b@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n# c\nnginx\n",
		"garbage!\r\n  x:1  \nx:1",
		"\n\n\n",
		"a\x00b\nUPPER/Case:v1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := rebase.New(
			rebase.WithJobs(3),
			rebase.WithTransport(unreachable{}),
			rebase.WithRetryBackoff(remote.Backoff{Steps: 1, Duration: time.Millisecond}),
			rebase.WithReferrers(false),
		)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := streamLines(r, 3)(ctx, strings.NewReader(in), &out, nil); err != nil {
			t.Fatal(err)
		}
		inLines := strings.SplitAfter(in, "\n")
		if inLines[len(inLines)-1] == "" {
			inLines = inLines[:len(inLines)-1]
		}
		outLines := strings.SplitAfter(out.String(), "\n")
		outLines = outLines[:len(outLines)-1] // every answer ends with a newline
		if len(outLines) != len(inLines) {
			t.Fatalf("%d lines in, %d out:\n%q\n%q", len(inLines), len(outLines), in, out.String())
		}
		for i := range inLines {
			want := strings.TrimRight(inLines[i], "\r\n")
			if got := strings.TrimRight(outLines[i], "\r\n"); got != want {
				t.Fatalf("line %d: %q echoed as %q", i+1, want, got)
			}
		}
	})
}
