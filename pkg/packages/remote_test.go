package packages_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// pkg is the package name at version.
func pkg(name, version string) packages.Package {
	return packages.Package{Name: name, Version: version}
}

func blobGets(reg *rebasetest.Registry) map[string]int {
	n := map[string]int{}
	for _, q := range reg.Requests() {
		if q.Method == "GET" && rebasetest.Kind(q.Path) == "blob" {
			n[q.Path[strings.LastIndex(q.Path, "/")+1:]]++
		}
	}
	return n
}

func TestReaderReadsEachLayerOnce(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shared := map[string]string{"var/lib/dpkg/status.d/tzdata": packagestest.DistrolessStatus(pkg("tzdata", "2024a-0+deb12u1"))}
	_, old, err := packagestest.PushBase(ctx, reg.Ref("debian:v1"), "v1", []map[string]string{shared,
		{"var/lib/dpkg/status.d/libssl3": packagestest.DistrolessStatus(pkg("libssl3", "3.0.11-1~deb12u2"))}})
	if err != nil {
		t.Fatal(err)
	}
	_, new, err := packagestest.PushBase(ctx, reg.Ref("debian:v2"), "v2", []map[string]string{shared,
		{"var/lib/dpkg/status.d/libssl3": packagestest.DistrolessStatus(pkg("libssl3", "3.0.15-1~deb12u1"))}})
	if err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	r := newReader(t)
	repo, _ := name.NewRepository(reg.Ref("debian"))
	list := func(h v1.Hash) packages.List {
		t.Helper()
		l, err := r.Image(ctx, repo.Digest(h.String()))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lo, ln := list(old[0]), list(new[0])
	list(old[0]) // memoised: no request
	if lo.Source != packages.Dpkg || lo.Where != "/var/lib/dpkg/status.d/" {
		t.Errorf("source %q at %q", lo.Source, lo.Where)
	}
	c := packages.Diff(lo.Packages, ln.Packages)
	if want := (packages.Changes{Upgraded: []packages.Change{{Name: "libssl3", Old: "3.0.11-1~deb12u2", New: "3.0.15-1~deb12u1"}}}); !reflect.DeepEqual(c, want) {
		t.Errorf("diff %+v, want %+v", c, want)
	}
	for d, n := range blobGets(reg) {
		if n != 1 {
			t.Errorf("blob %s read %d times, want once", d, n)
		}
	}
	// base-release, tzdata (shared), libssl3 of v1; base-release and libssl3 of v2.
	if got := len(blobGets(reg)); got != 5 {
		t.Errorf("%d blobs read, want 5: %v", got, reg.Requests())
	}
}

func TestReaderTakesAnAttachedSBOM(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, plats, err := packagestest.PushBase(ctx, reg.Ref("wolfi:v1"), "v1", []map[string]string{
		{"lib/apk/db/installed": packagestest.APKInstalled(pkg("openssl", "3.3.1-r0"))}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Ref("wolfi"))
	ref := repo.Digest(plats[0].String())
	if err := packagestest.AttachSBOM(ctx, ref, packagestest.SPDX(pkg("openssl", "3.3.9-r0"), pkg("glibc", "2.40-r1"))); err != nil {
		t.Fatal(err)
	}
	desc, err := remoteLayers(ref)
	if err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	l, err := newReader(t).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := []packages.Package{{Name: "glibc", Version: "2.40-r1"}, {Name: "openssl", Version: "3.3.9-r0"}}; l.Source != packages.SPDX || !reflect.DeepEqual(l.Packages, want) {
		t.Errorf("got %s %v, want the SBOM's %v", l.Source, l.Packages, want)
	}
	if want := ref.Context().Tag("sha256-" + plats[0].Hex + ".att").String(); l.Where != want {
		t.Errorf("where %q, want %q", l.Where, want)
	}
	for d := range blobGets(reg) {
		for _, layer := range desc {
			if d == layer {
				t.Errorf("base layer %s read, want the SBOM alone", d)
			}
		}
	}
}

func TestReaderBaseWithoutDatabase(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx := context.Background()
	_, plats, err := packagestest.PushBase(ctx, reg.Ref("static:v1"), "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Ref("static"))
	l, err := newReader(t).Image(ctx, repo.Digest(plats[1].String()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Known() || l.Unknown != "no SBOM attached and no package database (apk, dpkg, rpm) in its layers" {
		t.Errorf("got %+v", l)
	}
}

// TestReaderTakesAnSBOMReferrer: an SPDX document pushed as an OCI referrer
// of the base (artifactType application/spdx+json), as Chainguard's
// registry serves them.
func TestReaderTakesAnSBOMReferrer(t *testing.T) {
	reg := rebasetest.NewRegistry(registry.WithReferrersSupport(true))
	defer reg.Close()
	ctx := context.Background()
	_, plats, err := packagestest.PushBase(ctx, reg.Ref("cgr:v1"), "v1", []map[string]string{
		{"lib/apk/db/installed": packagestest.APKInstalled(pkg("openssl", "3.3.1-r0"))}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Ref("cgr"))
	ref := repo.Digest(plats[0].String())
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/spdx+json")
	art, err = mutate.Append(art, mutate.Addendum{Layer: static.NewLayer(packagestest.SPDX(pkg("openssl", "3.3.2-r0")), "application/spdx+json")})
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.Subject(art, *desc).(v1.Image)
	d, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(d.String()), art); err != nil {
		t.Fatal(err)
	}
	l, err := newReader(t).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := []packages.Package{pkg("openssl", "3.3.2-r0")}; l.Source != packages.SPDX || !reflect.DeepEqual(l.Packages, want) || l.Where != repo.Digest(d.String()).String() {
		t.Errorf("got %+v, want the referrer's %v", l, want)
	}
}

// TestReaderFallsBackWhenTheSBOMIsBroken: an SBOM that cannot be read is no
// reason to know nothing of the base: its layers are read, and the list says
// why the SBOM was not used.
func TestReaderFallsBackWhenTheSBOMIsBroken(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, plats, err := packagestest.PushBase(ctx, reg.Ref("wolfi:v1"), "v1", []map[string]string{
		{"usr/lib/apk/db/installed": packagestest.APKInstalled(pkg("openssl", "3.3.1-r0"))}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Ref("wolfi"))
	ref := repo.Digest(plats[0].String())
	if err := packagestest.AttachSBOM(ctx, ref, []byte(`{"kind":"Deployment"}`)); err != nil {
		t.Fatal(err)
	}
	l, err := newReader(t).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := []packages.Package{{Name: "openssl", Version: "3.3.1-r0"}}; l.Source != packages.APK || !reflect.DeepEqual(l.Packages, want) {
		t.Errorf("got %s %v, want the layers' %v", l.Source, l.Packages, want)
	}
	att := repo.Tag(strings.Replace(ref.DigestStr(), ":", "-", 1) + ".att")
	if want := "reading the SBOM attached to " + ref.String() + ": " + att.String() + ": the attestation's https://spdx.dev/Document predicate: SBOM: neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON"; l.SBOMError != want {
		t.Errorf("SBOMError %q\nwant       %q", l.SBOMError, want)
	}
}

// TestReaderErrorMessages: the exact text of what the Reader says of an
// index named instead of a platform's manifest, and of an SBOM too large to
// read (the layers are read instead).
func TestReaderErrorMessages(t *testing.T) {
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	idx, plats, err := packagestest.PushBase(ctx, reg.Ref("wolfi:v1"), "v1", []map[string]string{
		{"lib/apk/db/installed": packagestest.APKInstalled(pkg("openssl", "3.3.1-r0"))}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Ref("wolfi"))
	r := newReader(t)
	if _, err := r.Image(ctx, repo.Digest(idx.String())); err == nil || err.Error() != repo.Digest(idx.String()).String()+" is an index: name one platform's manifest" {
		t.Errorf("an index: %v", err)
	}
	// An attestation whose layer says it is larger than an SBOM is read.
	ref := repo.Digest(plats[0].String())
	att := repo.Tag(strings.Replace(ref.DigestStr(), ":", "-", 1) + ".att")
	big := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
		`"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","digest":"` + big.String() + `","size":67108865,"annotations":{"predicateType":"https://spdx.dev/Document"}}]}`
	if err := remote.Put(att, rawManifest(m), remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	l, err := r.Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := "reading the SBOM attached to " + ref.String() + ": " + att.String() + ": layer " + big.String() + ": 67108865 bytes, more than the 67108864 read of an SBOM"; l.SBOMError != want || l.Source != packages.APK {
		t.Errorf("SBOMError %q\nwant       %q (source %s)", l.SBOMError, want, l.Source)
	}
}

// rawManifest is a manifest pushed as it is written.
type rawManifest string

func (m rawManifest) RawManifest() ([]byte, error)        { return []byte(m), nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
