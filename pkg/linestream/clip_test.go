package linestream_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/linestream"
)

// A line quoted in a message or the report is clipped to 200 bytes and its
// length; one too long to be read whole says only its start was read.
func TestClip(t *testing.T) {
	short, long := strings.Repeat("a", 200), strings.Repeat("b", 201)
	if got := linestream.Clip(short); got != short {
		t.Errorf("Clip(200 bytes) = %q, want it unchanged", got)
	}
	if got, want := linestream.Clip(long), long[:200]+"... (201 bytes)"; got != want {
		t.Errorf("Clip(201 bytes) = %q, want %q", got, want)
	}
	in := strings.Repeat("c", 2*linestream.MaxLine) + "\n" + strings.Repeat("d", linestream.MaxLine+1) + "\n"
	var out strings.Builder
	sum, err := linestream.Stream{KeepResults: true}.Run(context.Background(), &fake{}, strings.NewReader(in), &out)
	if err != nil || len(sum.Results) != 2 {
		t.Fatalf("%v, %+v", err, sum)
	}
	for i, want := range []string{
		strings.Repeat("c", 200) + fmt.Sprintf("... (%d bytes and more)", linestream.MaxLine+2),
		strings.Repeat("d", 200) + fmt.Sprintf("... (%d bytes)", linestream.MaxLine+1),
	} {
		if got := sum.Results[i].Input; got != want {
			t.Errorf("line %d: input %q, want %q", i+1, got[190:], want[190:])
		}
	}
}
