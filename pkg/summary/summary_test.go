package summary

import (
	"bytes"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
)

func TestMarkdownPackagesPerPlatformAndUnknown(t *testing.T) {
	up := &packages.Changes{Upgraded: []packages.Change{{Name: "libstdc++_6*", Old: "1~a", New: "2~b"}}}
	dpkg := packages.List{Source: packages.Dpkg, Where: "/var/lib/dpkg/status"}
	bases := []Base{{
		Name: "r.example/debian:12",
		Platforms: []Platform{
			{Platform: "linux/amd64", Old: "sha256:a1", New: "sha256:a2", Changes: up, OldPackages: dpkg, NewPackages: dpkg},
			{Platform: "linux/arm64", Old: "sha256:b1", New: "sha256:b2",
				OldPackages: packages.List{Unknown: "layer sha256:x: 404 Not Found"}, NewPackages: dpkg},
		},
		Images: []Image{{Ref: "r.example/app:v1", Digest: "sha256:o", NewDigest: "sha256:n", Signed: "signed"}},
	}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, bases, []Failure{{Line: 3, Input: "r.example/x:v1", Reason: "a <b> failed_here"}}, linestream.Summary{Rebased: 1, Failed: 1}); err != nil {
		t.Fatal(err)
	}
	want := "# Rebase summary\n\n## Base `r.example/debian:12`\n\n| Platform | Old base | New base |\n|---|---|---|\n" +
		"| linux/amd64 | `sha256:a1` | `sha256:a2` |\n| linux/arm64 | `sha256:b1` | `sha256:b2` |\n\n" +
		"Packages changed on linux/amd64 (from `/var/lib/dpkg/status`):\n\n- libstdc++\\_6\\* `1~a` -> `2~b`\n\n" +
		"Packages changed on linux/arm64: unknown: the old base: layer sha256:x: 404 Not Found.\n\n" +
		"Images rebased onto it (1):\n\n- `r.example/app:v1`: `sha256:o` -> `sha256:n`, signed\n\n" +
		"## Failed (1)\n\n- line 3, `r.example/x:v1`: a \\<b\\> failed\\_here\n\n" +
		"## Counts\n\nrebased 1, up to date 0, skipped 0, failed 1\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestMarkdownNoBaseMoved(t *testing.T) {
	var b bytes.Buffer
	WriteMarkdown(&b, nil, nil, linestream.Summary{UpToDate: 2})
	if want := "# Rebase summary\n\nNo base moved: no image was rebased.\n\n## Counts\n\nrebased 0, up to date 2, skipped 0, failed 0\n"; b.String() != want {
		t.Errorf("got %q", b.String())
	}
}
