package layout

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

var (
	_ store.Source      = (*Store)(nil)
	_ store.Destination = (*Store)(nil)
)

// newLayout writes a layout with one random image named "app".
func newLayout(t *testing.T) (string, v1.Image) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	p, err := ggcrlayout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, ggcrlayout.WithAnnotations(map[string]string{AnnotationRefName: "app"})); err != nil {
		t.Fatal(err)
	}
	return dir, img
}

func TestParse(t *testing.T) {
	const d = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for in, want := range map[string]Ref{
		"oci:images:app":                         {Dir: "images", Name: "app"},
		"oci:/srv/images:127.0.0.1:5000/base:v2": {Dir: "/srv/images", Name: "127.0.0.1:5000/base:v2"},
		"oci:images@" + d:                        {Dir: "images", Digest: v1.Hash{Algorithm: "sha256", Hex: d[7:]}},
		"oci:images:app@" + d:                    {Dir: "images", Name: "app", Digest: v1.Hash{Algorithm: "sha256", Hex: d[7:]}},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("Parse(%q).String() = %q", in, got.String())
		}
	}
	for in, msg := range map[string]string{
		"oci:images":       `"oci:images" names no image in the layout: give oci:DIR:NAME (its ref.name) or oci:DIR@sha256:HEX`,
		"oci::app":         `"oci::app" names no layout directory (oci:DIR:NAME)`,
		"oci:images:a b":   `"oci:images:a b": "a b" is not a ref.name (letters and digits joined by - . _ : @ / +)`,
		"images:app":       `"images:app" is not an OCI layout reference (oci:DIR:NAME or oci:DIR@sha256:HEX)`,
		"oci:i@sha256:abc": `"oci:i@sha256:abc": the digest "sha256:abc": `,
	} {
		_, err := Parse(in)
		if err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("Parse(%q): %v, want %q", in, err, msg)
		}
	}
}

// Every read is verified: a manifest or blob file whose bytes are not its
// digest is refused, naming the file, by ref.name and by digest.
func TestReadVerifiesDigest(t *testing.T) {
	dir, img := newLayout(t)
	s := NewStore()
	ctx := context.Background()
	ref, err := s.Reference(Ref{Dir: dir, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	_, desc, err := s.Manifest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if desc.Digest != want || desc.MediaType != types.OCIManifestSchema1 {
		t.Fatalf("Manifest: %v, want %s", desc, want)
	}
	cfg, _ := img.ConfigName()
	if _, err := s.Blob(ctx, ref.Context().Digest(cfg.String()), 1<<20); err != nil {
		t.Fatal(err)
	}

	// Damage the manifest and the config: same size, one byte changed.
	for _, h := range []v1.Hash{want, cfg} {
		p := filepath.Join(dir, "blobs", "sha256", h.Hex)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-2] ^= 1
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var de *DigestError
	if _, _, err := s.Manifest(ctx, ref); !errors.As(err, &de) || de.Want != want ||
		!strings.HasSuffix(err.Error(), "blobs/sha256/"+want.Hex+" does not hold "+want.String()+" (its bytes are "+de.Got.String()+"): the layout is damaged; copy the image into it again") {
		t.Errorf("Manifest by ref.name of a damaged manifest: %v", err)
	}
	if _, _, err := s.Manifest(ctx, ref.Context().Digest(want.String())); !errors.As(err, &de) {
		t.Errorf("Manifest by digest of a damaged manifest: %v", err)
	}
	if _, err := s.Blob(ctx, ref.Context().Digest(cfg.String()), 1<<20); !errors.As(err, &de) || de.Want != cfg {
		t.Errorf("Blob of a damaged config: %v", err)
	}

	// A layer is verified as it is read.
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	p := filepath.Join(dir, "blobs", "sha256", ld.Hex)
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o644)
	l, err := s.Layer(ctx, ref.Context().Digest(ld.String()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	_, err = new(bytes.Buffer).ReadFrom(rc)
	rc.Close()
	if !errors.As(err, &de) || de.Want != ld {
		t.Errorf("reading a damaged layer: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	dir, _ := newLayout(t)
	s := NewStore()
	ctx := context.Background()
	ref, err := s.Reference(Ref{Dir: dir, Name: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Manifest(ctx, ref)
	if !registry.IsNotFound(err) || err.Error() != dir+` has no image named "nope" in its index.json (org.opencontainers.image.ref.name)` {
		t.Errorf("Manifest of a missing ref.name: %v", err)
	}
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if _, err := s.Blob(ctx, ref.Context().Digest(h.String()), 10); !registry.IsNotFound(err) || err.Error() != dir+" has no blob "+h.String() {
		t.Errorf("Blob of a missing blob: %v", err)
	}
	if _, err := s.Reference(Ref{Dir: filepath.Join(dir, "none"), Name: "app"}); err == nil || err.Error() != filepath.Join(dir, "none")+" is not an OCI image layout: it has no oci-layout file" {
		t.Errorf("a directory that is no layout: %v", err)
	}
}

// Blobs are written once (a blob present is not written again), verified
// before they take their name, and a tag move replaces index.json whole:
// the other entries and the index's own fields stay.
func TestWriteDedupAndIndex(t *testing.T) {
	dir, img := newLayout(t)
	s := NewStore()
	ctx := context.Background()
	ref, err := s.Reference(Ref{Dir: dir, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	// Another entry and a field of the index that go-containerregistry's
	// type does not know, to be kept.
	ip := filepath.Join(dir, "index.json")
	ib, _ := os.ReadFile(ip)
	ib = bytes.Replace(ib, []byte(`"schemaVersion": 2,`), []byte(`"schemaVersion": 2, "x-extra": {"k": "v"},`), 1)
	if !bytes.Contains(ib, []byte("x-extra")) {
		t.Fatalf("index.json %s", ib)
	}
	os.WriteFile(ip, ib, 0o644)

	w, err := s.Open(ctx, ref.Context(), ref.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	lp := filepath.Join(dir, "blobs", "sha256", ld.Hex)
	fi, _ := os.Stat(lp)
	n, err := w.PutLayer(ctx, ref.Context().Digest(ld.String()), v1.Descriptor{Digest: ld, Size: fi.Size()})
	if err != nil || n != 0 {
		t.Errorf("PutLayer of a layer present: %d bytes copied, %v", n, err)
	}
	if fi2, _ := os.Stat(lp); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("PutLayer rewrote a blob that was there")
	}

	// A blob whose bytes are not its digest is never written.
	bad := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	var de *DigestError
	if err := w.PutBlob(ctx, bad, []byte("not it")); !errors.As(err, &de) {
		t.Errorf("PutBlob with a wrong digest: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	for _, e := range entries {
		if e.Name() == bad.Hex || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s in blobs/", e.Name())
		}
	}

	// A new manifest by digest: an entry without a ref.name; then the tag
	// moves to it and the untagged entry goes.
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	ch := sha256Of(cfg)
	if err := w.PutBlob(ctx, ch, cfg); err != nil {
		t.Fatal(err)
	}
	if err := w.PutBlob(ctx, ch, cfg); err != nil {
		t.Fatal(err)
	}
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + ch.String() + `","size":` + itoa(len(cfg)) + `},"layers":[]}`)
	mh := sha256Of(man)
	if err := w.PutManifest(ctx, mh.String(), man, types.OCIManifestSchema1); err != nil {
		t.Fatal(err)
	}
	im := readIndex(t, dir)
	if len(im.Manifests) != 2 || im.Manifests[1].Digest != mh || im.Manifests[1].Annotations[AnnotationRefName] != "" {
		t.Fatalf("after a PUT by digest: %+v", im.Manifests)
	}
	if err := w.PutManifest(ctx, ref.(interface{ TagStr() string }).TagStr(), man, types.OCIManifestSchema1); err != nil {
		t.Fatal(err)
	}
	im = readIndex(t, dir)
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != mh || im.Manifests[0].Annotations[AnnotationRefName] != "app" {
		t.Fatalf("after the tag move: %+v", im.Manifests)
	}
	if b, _ := os.ReadFile(ip); !bytes.Contains(b, []byte(`"x-extra":{"k":"v"}`)) {
		t.Errorf("index.json lost a field: %s", b)
	}
	if d, err := w.TagDigest(ctx, ref.(interface{ TagStr() string }).TagStr()); err != nil || d != mh {
		t.Errorf("TagDigest: %v, %v", d, err)
	}
	// go-containerregistry reads the layout as written.
	p, err := ggcrlayout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(mh); err != nil {
		t.Error(err)
	}
}

// index.json is replaced, never written in place: a reader holding the old
// file sees it whole, a failed edit leaves it as it was, and no temporary
// file stays.
func TestIndexAtomic(t *testing.T) {
	dir, _ := newLayout(t)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ip := filepath.Join(dir, "index.json")
	before, _ := os.ReadFile(ip)
	old, err := os.Open(ip)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	boom := errors.New("boom")
	if err := d.Update(func(im *v1.IndexManifest) (bool, error) {
		im.Manifests = nil
		return true, boom
	}); err != boom {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(ip); !bytes.Equal(b, before) {
		t.Errorf("a failed edit changed index.json: %s", b)
	}
	if err := d.Update(func(im *v1.IndexManifest) (bool, error) {
		im.Manifests = nil
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	var held bytes.Buffer
	held.ReadFrom(old)
	if !bytes.Equal(held.Bytes(), before) {
		t.Errorf("the file a reader held changed under it (written in place): %s", held.Bytes())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func readIndex(t *testing.T, dir string) *v1.IndexManifest {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := d.Index()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func itoa(n int) string { return strconv.Itoa(n) }
