package refs

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want Ref
	}{
		{"nginx", true, Ref{Repository: "nginx"}},
		{"nginx:1.27", true, Ref{Repository: "nginx", Tag: "1.27"}},
		{"gcr.io/a/b@" + d, true, Ref{Repository: "gcr.io/a/b", Digest: d}},
		{"gcr.io/a/b:v1@" + d, true, Ref{Repository: "gcr.io/a/b", Tag: "v1", Digest: d}},
		{"localhost:5000/x:1", true, Ref{Repository: "localhost:5000/x", Tag: "1"}},
		{"127.0.0.1:5000/base", true, Ref{Repository: "127.0.0.1:5000/base"}},
		{"localhost/x", true, Ref{Repository: "localhost/x"}},
		{"mcr.microsoft.com/powershell:nanoserver@" + d, true, Ref{Repository: "mcr.microsoft.com/powershell", Tag: "nanoserver", Digest: d}},
		{"a__b/c-d--e.f", true, Ref{Repository: "a__b/c-d--e.f"}},
		// Strings name.ParseReference accepts, or nearly, that are not images here.
		{"/etc/ssl/certs", false, Ref{}},
		{"ko://knative.dev/serving/cmd/queue", false, Ref{}},
		{"--image=ghcr.io/a/b:1", false, Ref{}},
		{"Nginx", false, Ref{}},
		{"ghcr.io/A/b", false, Ref{}},
		{"gcr.io/a/b@sha256:abc", false, Ref{}},
		{"gcr.io/a/b@sha512:" + strings.Repeat("a", 128), false, Ref{}},
		{"a/b:", false, Ref{}},
		{"a/b:-x", false, Ref{}},
		{"a//b", false, Ref{}},
		{"a/b_", false, Ref{}},
		{"a___b", false, Ref{}},
		{"", false, Ref{}},
		{"gcr.io:/a", false, Ref{}},
		{"my-host:99999999/a", false, Ref{}},
	} {
		got, ok := Parse(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.in {
			t.Errorf("Parse(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestUnderPrefix(t *testing.T) {
	for _, tc := range []struct {
		repo, prefix string
		want         bool
	}{
		{"gcr.io/a/b", "gcr.io/a", true},
		{"gcr.io/a", "gcr.io/a", true},
		{"gcr.io/a/b", "gcr.io/a/", true},
		{"gcr.io/ab", "gcr.io/a", false},
		{"gcr.io", "gcr.io/a", false},
	} {
		if got := UnderPrefix(tc.repo, tc.prefix); got != tc.want {
			t.Errorf("UnderPrefix(%q, %q) = %v", tc.repo, tc.prefix, got)
		}
	}
}

func TestSameRepository(t *testing.T) {
	if !SameRepository("nginx:1", "index.docker.io/library/nginx@"+d) {
		t.Error("nginx and index.docker.io/library/nginx differ")
	}
	if SameRepository("ghcr.io/a/b:1", "ghcr.io/a/c:1") {
		t.Error("b and c are the same")
	}
}

// FuzzParse: whatever Parse accepts, go-containerregistry parses to the
// same tag and digest, and String gives back the input.
// (Strict mode is no oracle: it rejects "nginx:1" for its missing "library/".)
func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "gcr.io/a/b:v1@" + d, "localhost:5000/x", "a__b/c", "/etc", "ko://x", "[::1]:5000/a:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := Parse(s)
		if !ok {
			return
		}
		if r.String() != s {
			t.Fatalf("String() = %q, want %q", r.String(), s)
		}
		ref, err := name.ParseReference(s)
		if err != nil {
			t.Fatalf("ggcr rejects %q: %v", s, err)
		}
		if r.Digest != "" && ref.Identifier() != r.Digest {
			t.Fatalf("ggcr reads digest %q, we read %q", ref.Identifier(), r.Digest)
		}
		if r.Digest == "" && r.Tag != "" && ref.Identifier() != r.Tag {
			t.Fatalf("ggcr reads tag %q, we read %q", ref.Identifier(), r.Tag)
		}
	})
}
