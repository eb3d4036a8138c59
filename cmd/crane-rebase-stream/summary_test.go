package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
	"github.com/rebasekit/rebasekit/pkg/summary"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// pkg is the package name at version.
func pkg(name, version string) packages.Package {
	return packages.Package{Name: name, Version: version}
}

// packageWorld: an apk base (wolfi) and a distroless-style dpkg base
// (debian) that moved, a base without a package database (static) that
// moved too, an app on each.
type packageWorld struct {
	reg        *rebasetest.Registry
	apps       []string
	baseLayers map[string]bool // every layer digest of every base
}

func newPackageWorld(t *testing.T) *packageWorld {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	w := &packageWorld{reg: rebasetest.NewRegistry(), baseLayers: map[string]bool{}}
	t.Cleanup(w.reg.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	busybox := pkg("busybox", "1.36.1-r29")
	dpkg := func(ps ...packages.Package) map[string]string {
		m := map[string]string{}
		for _, p := range ps {
			m["var/lib/dpkg/status.d/"+p.Name] = packagestest.DistrolessStatus(p)
		}
		return m
	}
	bases := []struct {
		repo   string
		v1, v2 []map[string]string
	}{
		{"wolfi", []map[string]string{{"lib/apk/db/installed": packagestest.APKInstalled(busybox, pkg("libcrypto3", "3.3.1-r0"), pkg("openssl", "3.3.1-r0"))}},
			[]map[string]string{{"lib/apk/db/installed": packagestest.APKInstalled(busybox, pkg("ca-certificates-bundle", "20240705-r0"), pkg("openssl", "3.3.2-r0"))}}},
		{"debian", []map[string]string{dpkg(pkg("libssl3", "3.0.11-1~deb12u2"), pkg("tzdata", "2024a-0+deb12u1"))},
			[]map[string]string{dpkg(pkg("libssl3", "3.0.15-1~deb12u1"), pkg("tzdata", "2024a-0+deb12u1"))}},
		{"static", nil, nil},
	}
	for _, b := range bases {
		_, p1, err := packagestest.PushBase(ctx, w.reg.Ref(b.repo+":v1"), "v1", b.v1)
		must(err)
		must(rebasetest.Tag(ctx, w.reg.Ref(b.repo+":v1"), w.reg.Ref(b.repo+":stable")))
		d, err := rebasetest.PushApp(ctx, w.reg.Ref("app-"+b.repo+":v1"), rebasetest.AppSpec{Base: w.reg.Ref(b.repo + ":stable"), Name: b.repo})
		must(err)
		w.apps = append(w.apps, w.reg.Ref("app-"+b.repo+"@"+d.String()))
		_, p2, err := packagestest.PushBase(ctx, w.reg.Ref(b.repo+":v2"), "v2", b.v2)
		must(err)
		must(rebasetest.Tag(ctx, w.reg.Ref(b.repo+":v2"), w.reg.Ref(b.repo+":stable")))
		for _, h := range append(p1, p2...) {
			ref, err := name.ParseReference(w.reg.Ref(b.repo + "@" + h.String()))
			must(err)
			img, err := remote.Image(ref)
			must(err)
			ls, err := img.Layers()
			must(err)
			for _, l := range ls {
				d, err := l.Digest()
				must(err)
				w.baseLayers[d.String()] = true
			}
		}
	}
	w.reg.Reset()
	return w
}

// layerReads counts the GETs of each base layer blob since the last Reset.
func (w *packageWorld) layerReads() map[string]int {
	n := map[string]int{}
	for _, q := range w.reg.Requests() {
		d := q.Path[strings.LastIndex(q.Path, "/")+1:]
		if q.Method == "GET" && rebasetest.Kind(q.Path) == "blob" && w.baseLayers[d] {
			n[d]++
		}
	}
	return n
}

func TestSummaryMarkdown(t *testing.T) {
	w := newPackageWorld(t)
	dir := t.TempDir()
	sumPath, repPath := filepath.Join(dir, "summary.md"), filepath.Join(dir, "report.json")
	in := strings.Join(append(w.apps, w.reg.Ref("gone:v1")), "\n") + "\n"
	code, out, errs := runCmd(t, in, "-j", "2", "--summary", sumPath, "--report", repPath, "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (gone:v1 fails); stderr:\n%s", code, errs)
	}
	got, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	md := string(got)
	for _, want := range []string{
		"## Base `" + w.reg.Ref("wolfi:stable") + "`",
		"- openssl `3.3.1-r0` -> `3.3.2-r0`\n",
		"- added ca-certificates-bundle `20240705-r0`\n",
		"- removed libcrypto3 `3.3.1-r0`\n",
		"## Base `" + w.reg.Ref("debian:stable") + "`",
		"- libssl3 `3.0.11-1~deb12u2` -> `3.0.15-1~deb12u1`\n",
		"Packages changed: unknown: neither base lists them (no SBOM attached and no package database (apk, dpkg, rpm) in its layers).\n",
		"## Failed (1)\n\n- line 4, `" + w.reg.Ref("gone:v1") + "`: ",
		"## Counts\n\nrebased 3, up to date 0, skipped 0, failed 1\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	for _, not := range []string{"busybox", "tzdata"} {
		if strings.Contains(md, not) {
			t.Errorf("summary names %s, unchanged:\n%s", not, md)
		}
	}
	// Each image with its old and new digest; the output line names the new one.
	for i, line := range strings.Split(strings.TrimSpace(out), "\n")[:3] {
		newDigest := line[strings.LastIndex(line, "@")+1:]
		old := w.apps[i][strings.LastIndex(w.apps[i], "@")+1:]
		if want := "- `" + w.apps[i] + "`: `" + old + "` -> `" + newDigest + "`, not signed\n"; !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	for d, n := range w.layerReads() {
		if n > 1 {
			t.Errorf("base layer %s read %d times, want once", d, n)
		}
	}
	// The report has the same facts, for machines.
	var rep struct {
		Bases []struct {
			Name      string
			Platforms []struct {
				Platform, Old, New string
				Changes            *packages.Changes
				NewPackages        packages.List
			}
		}
	}
	b, err := os.ReadFile(repPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if len(rep.Bases) != 3 || rep.Bases[0].Name != w.reg.Ref("debian:stable") || len(rep.Bases[0].Platforms) != 2 {
		t.Fatalf("report bases: %s", b)
	}
	p := rep.Bases[0].Platforms[0]
	if p.Changes == nil || len(p.Changes.Upgraded) != 1 || p.Changes.Upgraded[0] != (packages.Change{Name: "libssl3", Old: "3.0.11-1~deb12u2", New: "3.0.15-1~deb12u1"}) || p.NewPackages.Source != packages.Dpkg {
		t.Errorf("report: debian's changes %+v from %+v", p.Changes, p.NewPackages)
	}
	golden(t, "summary.golden.md", stableDigests(strings.ReplaceAll(md, w.reg.Host, "registry.example")))
}

var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// stableDigests replaces the digests of the apps, which hold the test
// registry's port in their base.name annotation, by stand-ins that stay the
// same from run to run: the sha256 of "app digest N", N in order of
// appearance. The bases' digests are stable already.
func stableDigests(md string) string {
	seen := map[string]string{}
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "- `registry.example/app-") {
			continue
		}
		lines[i] = digestRE.ReplaceAllStringFunc(l, func(d string) string {
			if s, ok := seen[d]; ok {
				return s
			}
			s := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprintf("app digest %d", len(seen)))))
			seen[d] = s
			return s
		})
	}
	return strings.Join(lines, "\n")
}

// golden compares got with testdata/name, or writes it with -update: the
// sample summary shown in the README is this file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestNoSummaryReadsNoBaseLayer(t *testing.T) {
	w := newPackageWorld(t)
	report := filepath.Join(t.TempDir(), "report.json")
	code, _, errs := runCmd(t, strings.Join(w.apps, "\n")+"\n", "--report", report, "-")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	if n := w.layerReads(); len(n) != 0 {
		t.Errorf("without --summary, base layers read: %v", n)
	}
	b, _ := os.ReadFile(report)
	if strings.Contains(string(b), `"bases"`) {
		t.Errorf("without --summary the report has bases:\n%s", b)
	}
}

func TestSummaryUnwritableRefusedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no")
	code, _, errs := runCmd(t, "", "--summary", filepath.Join(dir, "s.md"), "-")
	if want := "crane-rebase-stream: --summary: cannot create " + dir + "/s.md: " + dir + ": no such file or directory\n"; code != exitUsage || errs != want {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// After a signal, or once the output's reader is gone, the work after the
// stream (--summary's package reads) is not begun: its context has ended.
func TestOutputsCtxEndsAfterAnInterrupt(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(*interrupt)
		done bool
	}{
		{"a quiet run", func(*interrupt) {}, false},
		{"a signal", func(i *interrupt) { s := os.Signal(os.Interrupt); i.sig.Store(&s) }, true},
		{"the reader gone", func(i *interrupt) { i.readerGone() }, true},
	} {
		i := newInterrupt(io.Discard)
		c.do(i)
		if err := i.outputsCtx().Err(); (err != nil) != c.done {
			t.Errorf("%s: the outputs' context has error %v; want ended %v", c.name, err, c.done)
		}
		i.close()
	}
}

// TestSummaryWriteFailsAtTheEnd: a summary that can no longer be written
// when the run ends (its directory gone since the start) says so.
func TestSummaryWriteFailsAtTheEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	o := &outputs{summary: &summary.Rebase{}, summaryPath: filepath.Join(dir, "s.md"),
		timeout: func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }}
	err := o.finish(context.Background(), linestream.Summary{})
	if want := "writing summary: cannot create " + dir + "/s.md: " + dir + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}
}
