package summary

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/rebase"
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
	if err := WriteMarkdown(&b, bases, []Failure{{Line: 3, Input: "r.example/x:v1", Reason: "a <b> failed_here"}}, linestream.Summary{Counts: linestream.Counts{Rebased: 1, Failed: 1}}, false); err != nil {
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
	WriteMarkdown(&b, nil, nil, linestream.Summary{Counts: linestream.Counts{UpToDate: 2}}, false)
	if want := "# Rebase summary\n\nNo base moved: no image was rebased.\n\n## Counts\n\nrebased 0, up to date 2, skipped 0, failed 0\n"; b.String() != want {
		t.Errorf("got %q", b.String())
	}
}

// TestMarkdownHostileStrings: names, versions, references and reasons come
// from registries and SBOMs; none may put a heading, a link, emphasis or a
// table row of its own into a pull request's body.
func TestMarkdownHostileStrings(t *testing.T) {
	spdx := []byte(`{"spdxVersion":"SPDX-2.3","packages":[
	 {"name":"openssl","versionInfo":"3.3.2-r0\n\n## Approved by security team\n\n[click](https://evil.example)"},
	 {"name":"zlib\n# Fake heading","versionInfo":"1"},
	 {"name":"curl","versionInfo":"8` + "``" + ` **bold** [x](https://evil.example) ` + "``" + `"},
	 {"name":"[n](https://evil.example)","versionInfo":"` + "`" + `1"}]}`)
	ps, err := packages.ParseSPDX(spdx)
	if err != nil {
		t.Fatal(err)
	}
	c := packages.Diff([]packages.Package{{Name: "openssl", Version: "3.3.1-r0"}, {Name: "curl", Version: "8"}}, ps)
	l := packages.List{Source: packages.SPDX}
	bases := []Base{{Name: "r.example/base:1\n# B", Platforms: []Platform{{Platform: "linux/amd64|x\n# P", Old: "sha256:a", New: "sha256:b", Changes: &c, OldPackages: l, NewPackages: l}},
		Images: []Image{{Ref: "r.example/app:v1\r\n## I", Digest: "sha256:o", NewDigest: "sha256:n", Signed: "signed"}}}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, bases, []Failure{{Line: 1, Input: "x``[y](https://evil)``", Reason: "r\n# R [z](https://evil) *e*"}}, linestream.Summary{}, false); err != nil {
		t.Fatal(err)
	}
	want := "# Rebase summary\n\n## Base `r.example/base:1\\n# B`\n\n| Platform | Old base | New base |\n|---|---|---|\n" +
		"| linux/amd64\\|x\\\\n\\# P | `sha256:a` | `sha256:b` |\n\n" +
		"Packages changed (from the SPDX SBOM attached):\n\n" +
		"- curl `8` -> ``` 8`` **bold** [x](https://evil.example) `` ```\n" +
		"- openssl `3.3.1-r0` -> `3.3.2-r0\\n\\n## Approved by security team\\n\\n[click](https://evil.example)`\n" +
		"- added \\[n\\](https://evil.example) `` `1 ``\n" +
		"- added zlib\\\\n\\# Fake heading `1`\n\n" +
		"Images rebased onto it (1):\n\n- `r.example/app:v1\\r\\n## I`: `sha256:o` -> `sha256:n`, signed\n\n" +
		"## Failed (1)\n\n- line 1, ``` x``[y](https://evil)`` ```: r\\\\n\\# R \\[z\\](https://evil) \\*e\\*\n\n" +
		"## Counts\n\nrebased 0, up to date 0, skipped 0, failed 0\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	for i, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "# Rebase summary") && !strings.HasPrefix(line, "## Base `") && !strings.HasPrefix(line, "## Failed") && !strings.HasPrefix(line, "## Counts") {
			t.Errorf("line %d is a heading of its own: %q", i+1, line)
		}
	}
}

// TestMarkdownDryRun: a dry run pushed nothing; its summary says what would
// be rebased, as its stderr does.
func TestMarkdownDryRun(t *testing.T) {
	var s Rebase
	s.Add(1, rebase.Result{Input: "r.example/app:v1", Action: rebase.Rebased, Base: "r.example/base:1", Digest: "sha256:o", NewDigest: "sha256:n", DryRun: true,
		Platforms: []rebase.PlatformResult{{Platform: "linux/amd64", Action: rebase.Rebased, OldBase: "sha256:a", NewBase: "sha256:b"}}})
	var b bytes.Buffer
	if err := WriteMarkdown(&b, s.Bases(context.Background()), nil, linestream.Summary{Counts: linestream.Counts{Rebased: 1}}, s.DryRun()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Images that would be rebased onto it (1):\n", "## Counts\n\nwould rebase 1, up to date 0, skipped 0, failed 0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}

// TestMarkdownSBOMUnreadable: the packages were read from the layers
// because the SBOM attached could not be; the summary says so.
func TestMarkdownSBOMUnreadable(t *testing.T) {
	apk := packages.List{Source: packages.APK, Where: "/usr/lib/apk/db/installed"}
	broken := apk
	broken.SBOMError = "reading the SBOM attached to r.example/wolfi@sha256:b: 500 Internal Server Error"
	var b bytes.Buffer
	WriteMarkdown(&b, []Base{{Name: "r.example/wolfi:2", Platforms: []Platform{{Platform: "linux/amd64", Old: "sha256:a", New: "sha256:b", Changes: &packages.Changes{}, OldPackages: apk, NewPackages: broken}}}}, nil, linestream.Summary{}, false)
	if want := "Packages changed: none (from `/usr/lib/apk/db/installed` -> `/usr/lib/apk/db/installed`; reading the SBOM attached to r.example/wolfi@sha256:b: 500 Internal Server Error).\n"; !strings.Contains(b.String(), want) {
		t.Errorf("no %q in:\n%s", want, b.String())
	}
}
