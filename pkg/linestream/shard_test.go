package linestream_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/refs"
)

// shardWorker rebases every reference naming "app" to @sha256:111..., leaves the
// others up to date, and refuses what is no reference. It counts its calls.
type shardWorker struct{ calls atomic.Int64 }

const newDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func (f *shardWorker) Rebase(_ context.Context, ref string) rebase.Result {
	f.calls.Add(1)
	r, ok := refs.Parse(ref)
	switch {
	case !ok:
		return rebase.Result{Input: ref, Output: ref, Action: rebase.Failed, Err: rebase.ErrNotReference, Reason: rebase.ErrNotReference.Error()}
	case strings.Contains(ref, "app"):
		r.Digest = newDigest
		return rebase.Result{Input: ref, Output: r.String(), Action: rebase.Rebased}
	}
	return rebase.Result{Input: ref, Output: ref, Action: rebase.UpToDate}
}

func runLines(t *testing.T, s linestream.Stream, in string) (string, *shardWorker) {
	t.Helper()
	var out bytes.Buffer
	f := &shardWorker{}
	if _, err := s.Run(context.Background(), f, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	return out.String(), f
}

func TestPairs(t *testing.T) {
	in := "ghcr.io/me/app:v1\n\n# a comment\n  ghcr.io/me/db:v2  \nghcr.io/me/app:v1\nnot a reference\nghcr.io/me/app@" + newDigest + "\r\n"
	want := "ghcr.io/me/app:v1 ghcr.io/me/app:v1@" + newDigest + "\n" +
		"\n" +
		"# a comment\n" +
		"ghcr.io/me/db:v2 ghcr.io/me/db:v2\n" +
		"ghcr.io/me/app:v1 ghcr.io/me/app:v1@" + newDigest + "\n" +
		"not a reference\n" +
		"ghcr.io/me/app@" + newDigest + " ghcr.io/me/app@" + newDigest + "\n"
	got, f := runLines(t, linestream.Stream{Pairs: true}, in)
	if got != want {
		t.Errorf("--pairs printed\n%q\nwant\n%q", got, want)
	}
	if n := f.calls.Load(); n != 4 {
		t.Errorf("%d rebases, want 4 (the repeated reference once)", n)
	}
}

// Shards of a stream: every distinct reference falls in exactly one, the
// same one whatever the input order; each shard prints its pairs alone; the
// shards' outputs together are the single run's pairs.
func TestShardsPartitionTheReferences(t *testing.T) {
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("ghcr.io/me/app%d:v1", i), fmt.Sprintf("ghcr.io/me/db%d:v1", i%7))
	}
	in := "# header\n\n" + strings.Join(lines, "\n") + "\n"
	all, _ := runLines(t, linestream.Stream{Pairs: true}, in)
	want := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want[l] = true
		}
	}
	rev := slices.Clone(lines)
	slices.Reverse(rev)
	const n = 3
	owner := map[string]int{}
	var union []string
	for i := range n {
		got, f := runLines(t, linestream.Stream{Shard: linestream.Shard{Index: i, Count: n}}, in)
		gotRev, _ := runLines(t, linestream.Stream{Shard: linestream.Shard{Index: i, Count: n}}, strings.Join(rev, "\n")+"\n")
		a, b := strings.Split(got, "\n"), strings.Split(gotRev, "\n")
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			t.Errorf("shard %d/%d: the input reversed gives other pairs:\n%s\nvs\n%s", i, n, got, gotRev)
		}
		distinct := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				t.Errorf("shard %d printed %q: a shard prints pairs alone", i, l)
				continue
			}
			old := strings.Fields(l)[0]
			if o, ok := owner[old]; ok && o != i {
				t.Errorf("%s in shards %d and %d", old, o, i)
			}
			owner[old] = i
			distinct[old] = true
			union = append(union, l)
		}
		if int(f.calls.Load()) != len(distinct) {
			t.Errorf("shard %d rebased %d references for %d distinct ones", i, f.calls.Load(), len(distinct))
		}
		if len(distinct) == 0 {
			t.Errorf("shard %d of %d got nothing from 47 references", i, n)
		}
	}
	if len(union) != len(lines) {
		t.Errorf("the shards printed %d pairs, want %d (one per reference line)", len(union), len(lines))
	}
	for _, l := range union {
		if !want[l] {
			t.Errorf("shard pair %q is not the single run's", l)
		}
	}
}

// The hash is fixed: a reference's shard must not change between releases,
// or a run half on the old binary would do references twice or never.
func TestShardHashStable(t *testing.T) {
	var got []int
	for _, ref := range []string{"ghcr.io/me/app:v1", "ghcr.io/me/db:v1", "gcr.io/x/y@" + newDigest, "a", "b"} {
		for i := range 4 {
			if (linestream.Shard{Index: i, Count: 4}).Has(ref) {
				got = append(got, i)
			}
		}
	}
	if want := []int{2, 2, 0, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("shards of 4: %v, want %v", got, want)
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]string{
		"0/4":  "0/4",
		"3/4":  "3/4",
		"0/1":  "0/1",
		"4/4":  `"4/4": the shard index I counts from 0 and must be below N: 0 to 3`,
		"-1/4": `"-1/4": the shard index I counts from 0 and must be below N: 0 to 3`,
		"1/0":  `"1/0": the shard count N must be at least 1`,
		"3":    `"3": want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4`,
		"a/b":  `"a/b": want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4`,
		"":     `"": want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4`,
	} {
		s, err := linestream.ParseShard(in)
		got := s.String()
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("ParseShard(%q) = %s, want %s", in, got, want)
		}
	}
}

// Without KeepResults the Summary counts and keeps nothing else: memory does
// not grow with the input.
func TestSummaryKeepsNoResults(t *testing.T) {
	in := strings.Repeat("ghcr.io/me/app:v1\nghcr.io/me/db:v1\n", 50)
	f := &shardWorker{}
	sum, err := linestream.Stream{}.Run(context.Background(), f, strings.NewReader(in), &bytes.Buffer{})
	if err != nil || sum.Rebased != 50 || sum.UpToDate != 50 || sum.Results != nil {
		t.Errorf("%s, %d results kept, %v; want 50 and 50, none kept", sum, len(sum.Results), err)
	}
	sum, _ = linestream.Stream{KeepResults: true}.Run(context.Background(), f, strings.NewReader(in), &bytes.Buffer{})
	if len(sum.Results) != 100 {
		t.Errorf("KeepResults: %d results, want 100", len(sum.Results))
	}
}

// ParseShard accepts exactly I/N with 0 <= I < N and spells it back.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/4", "3/4", "4/4", "-1/4", "1/0", "a/b", "", "0/1", "+1/2", "01/2", " 1/2", "1/2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := linestream.ParseShard(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("%q: ", s)) {
				t.Errorf("error %q does not quote the input", err)
			}
			return
		}
		if sh.Index < 0 || sh.Index >= sh.Count {
			t.Errorf("%q: shard %d of %d accepted", s, sh.Index, sh.Count)
		}
		again, err := linestream.ParseShard(sh.String())
		if err != nil || again != sh {
			t.Errorf("%q: %v spells %q, which parses to %v, %v", s, sh, sh.String(), again, err)
		}
	})
}
