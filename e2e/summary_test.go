package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

func pk(name, version string) packages.Package { return packages.Package{Name: name, Version: version} }

// TestSummaries: ko builds hello on an apk base (wolfi), greeter on a
// distroless-style dpkg base (debian) and tool on an apk base with an SPDX
// SBOM attached (sbom), for two platforms each; every base moves. The
// pipeline with both --summary flags, through a proxy that records every
// request, says per base its old and new digests and the packages that
// changed (from the SBOM for sbom, whose layers are not read), and which
// lines of release.yaml now name which digests; no base blob is read twice.
func TestSummaries(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	px, err := faultproxy.New(suite.host, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	host := px.Host
	dpkg := func(ps ...packages.Package) map[string]string {
		m := map[string]string{}
		for _, p := range ps {
			m["var/lib/dpkg/status.d/"+p.Name] = packagestest.DistrolessStatus(p)
		}
		return m
	}
	apk := func(ps ...packages.Package) []map[string]string {
		return []map[string]string{{"lib/apk/db/installed": packagestest.APKInstalled(ps...)}}
	}
	busybox := pk("busybox", "1.36.1-r29")
	tz := pk("tzdata", "2024a-0+deb12u1")
	type base struct {
		repo, app string
		v1, v2    []map[string]string
		sbom      [2][]packages.Package // attached to each platform of v1, v2
		plats     [2][]v1.Hash
	}
	bases := []*base{
		{repo: "pkgs/wolfi", app: "hello",
			v1: apk(busybox, pk("libcrypto3", "3.3.1-r0"), pk("openssl", "3.3.1-r0")),
			v2: apk(busybox, pk("ca-certificates-bundle", "20240705-r0"), pk("openssl", "3.3.2-r0"))},
		{repo: "pkgs/debian", app: "greeter",
			v1: []map[string]string{dpkg(pk("libssl3", "3.0.11-1~deb12u2"), tz)},
			v2: []map[string]string{dpkg(pk("libssl3", "3.0.15-1~deb12u1"), tz)}},
		{repo: "pkgs/sbom", app: "tool",
			v1:   apk(pk("glibc", "2.39-r0")),
			v2:   apk(pk("glibc", "2.39-r0")), // the SBOM, not the database, is read
			sbom: [2][]packages.Package{{pk("glibc", "2.39-r0"), pk("zlib", "1.3.1-r0")}, {pk("glibc", "2.40-r1"), pk("zlib", "1.3.1-r0")}}},
	}
	push := func(b *base, i int, version string, layers []map[string]string) {
		t.Helper()
		_, plats, err := packagestest.PushBase(ctx, host+"/"+b.repo+":"+version, b.app+" "+version, layers)
		if err != nil {
			t.Fatal(err)
		}
		b.plats[i] = plats
		for _, h := range plats {
			if b.sbom[i] != nil {
				if err := packagestest.AttachSBOM(ctx, digestRef(t, host+"/"+b.repo+"@"+h.String()), packagestest.SPDX(b.sbom[i]...)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := rebasetest.Tag(ctx, host+"/"+b.repo+":"+version, host+"/"+b.repo+":stable"); err != nil {
			t.Fatal(err)
		}
	}
	config := "baseImageOverrides:\n"
	for _, b := range bases {
		push(b, 0, "v1", b.v1)
		config += "  example.com/rkapps/" + b.app + ": " + host + "/" + b.repo + ":stable\n"
	}
	configDir := t.TempDir()
	writeFile(t, filepath.Join(configDir, ".ko.yaml"), []byte(config))
	out, err := ko(ctx, []string{"KO_CONFIG_PATH=" + configDir, "KO_DOCKER_REPO=" + host + "/pkgapps"}, "build", "./hello", "./greeter", "./tool")
	if err != nil {
		t.Fatal(err)
	}
	release := "apiVersion: v1\nkind: List\nitems:\n"
	refs := map[string]string{}
	for _, b := range bases {
		if refs[b.app], err = findRef(out, host+"/pkgapps/"+b.app); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		release += "- apiVersion: v1\n  kind: Pod\n  metadata: {name: " + b.app + "}\n  spec:\n    containers:\n    - name: " + b.app + "\n      image: " + refs[b.app] + "\n"
	}
	for _, b := range bases {
		push(b, 1, "v2", b.v2)
	}
	baseLayers := map[string]bool{}
	sbomLayers := map[string]bool{}
	for _, b := range bases {
		for _, hs := range b.plats {
			for _, h := range hs {
				img, err := remote.Image(digestRef(t, host+"/"+b.repo+"@"+h.String()))
				if err != nil {
					t.Fatal(err)
				}
				ls, _ := img.Layers()
				for _, l := range ls {
					d, _ := l.Digest()
					baseLayers[d.String()] = true
					if b.sbom[0] != nil {
						sbomLayers[d.String()] = true
					}
				}
			}
		}
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "release.yaml"), []byte(release))
	px.ResetStats()
	p := shell(t, dir, "export KO_DOCKER_REPO="+host+"/pkgapps\n"+
		"ko-extract -f release.yaml | crane-rebase-stream --summary rebase.md --report report.json - | ko-rewrite -f release.yaml --images - --summary rewrite.md > rebased.yaml")
	if p.code != 0 || summaryLine(p.stderr) != "rebased 3, up to date 0, skipped 0, failed 0" {
		t.Fatalf("pipeline: exit %d\n%s", p.code, p.stderr)
	}
	reads := map[string]int{}
	for _, e := range px.Trail() {
		if e.Method == "GET" && strings.Contains(e.Path, "/blobs/") {
			reads[e.Path[strings.LastIndex(e.Path, "/")+1:]]++
		}
	}
	for d, n := range reads {
		if baseLayers[d] && n > 1 {
			t.Errorf("base layer %s read %d times, want once", d, n)
		}
		if sbomLayers[d] {
			t.Errorf("a layer of the base with an SBOM was read: %s", d)
		}
	}

	md := readFile(t, filepath.Join(dir, "rebase.md"))
	rebased := readFile(t, filepath.Join(dir, "rebased.yaml"))
	wants := []string{
		"- openssl `3.3.1-r0` -> `3.3.2-r0`\n",
		"- added ca-certificates-bundle `20240705-r0`\n",
		"- removed libcrypto3 `3.3.1-r0`\n",
		"- libssl3 `3.0.11-1~deb12u2` -> `3.0.15-1~deb12u1`\n",
		"- glibc `2.39-r0` -> `2.40-r1`\n",
		"## Counts\n\nrebased 3, up to date 0, skipped 0, failed 0\n",
	}
	for _, b := range bases {
		wants = append(wants, "## Base `"+host+"/"+b.repo+":stable`\n")
		for i, pl := range []string{"linux/amd64", "linux/arm64"} {
			wants = append(wants, "| "+pl+" | `"+b.plats[0][i].String()+"` | `"+b.plats[1][i].String()+"` |\n")
		}
		nw, err := findRef([]byte(rebased), host+"/pkgapps/"+b.app)
		if err != nil {
			t.Fatal(err)
		}
		old := refs[b.app][strings.Index(refs[b.app], "@")+1:]
		wants = append(wants, "- `"+refs[b.app]+"`: `"+old+"` -> `"+nw[strings.Index(nw, "@")+1:]+"`, not signed\n")
	}
	wants = append(wants, "Packages changed (from the SPDX SBOM attached):\n\n- glibc")
	for _, w := range wants {
		if !strings.Contains(md, w) {
			t.Errorf("rebase.md lacks %q", w)
		}
	}
	for _, not := range []string{"busybox", "tzdata", "zlib"} {
		if strings.Contains(md, not) {
			t.Errorf("rebase.md names %s, unchanged", not)
		}
	}
	if t.Failed() {
		t.Logf("rebase.md:\n%s", md)
	}

	// ko-rewrite's summary: the file and the changed lines, with the new digests.
	rw := readFile(t, filepath.Join(dir, "rewrite.md"))
	lines := strings.Split(release, "\n")
	for i, l := range lines {
		for _, b := range bases {
			if strings.HasSuffix(l, "image: "+refs[b.app]) {
				nw, _ := findRef([]byte(rebased), host+"/pkgapps/"+b.app)
				want := "- line " + itoa(i+1) + ": `" + refs[b.app] + "` -> `" + nw + "`\n"
				if !strings.Contains(rw, want) {
					t.Errorf("rewrite.md lacks %q:\n%s", want, rw)
				}
			}
		}
	}
	if !strings.HasPrefix(rw, "# Rewrite summary\n\n## `release.yaml`\n\n") || !strings.HasSuffix(rw, "3 reference(s) changed in 1 of 1 file(s).\n") {
		t.Errorf("rewrite.md:\n%s", rw)
	}

	// The report holds the same package changes, as data.
	var rep struct {
		Bases []struct {
			Name      string
			Platforms []struct{ Changes *packages.Changes }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "report.json"))), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Bases) != 3 || rep.Bases[2].Name != host+"/pkgs/wolfi:stable" || rep.Bases[2].Platforms[0].Changes == nil ||
		len(rep.Bases[2].Platforms[0].Changes.Upgraded) != 1 || rep.Bases[2].Platforms[0].Changes.Upgraded[0].New != "3.3.2-r0" {
		t.Errorf("report bases: %+v", rep.Bases)
	}
}

func digestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func itoa(i int) string { return strconv.Itoa(i) }
