package rebase_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// world is a registry holding base:v1 (tagged base:stable) and apps on it.
type world struct {
	t   *testing.T
	ctx context.Context
	reg *rebasetest.Registry
}

func newWorld(t *testing.T, opts ...registry.Option) *world {
	t.Helper()
	reg := rebasetest.NewRegistry(opts...)
	t.Cleanup(reg.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &world{t: t, ctx: ctx, reg: reg}
}

func (w *world) ref(s string) string { return w.reg.Ref(s) }

// base pushes a base at repo:version and returns its digest.
func (w *world) base(repo, version string, spec rebasetest.BaseSpec) v1.Hash {
	w.t.Helper()
	spec.Version = version
	d, err := rebasetest.PushBase(w.ctx, w.ref(repo+":"+version), spec)
	if err != nil {
		w.t.Fatalf("pushing base %s:%s: %v", repo, version, err)
	}
	return d
}

func (w *world) tag(src, dst string) {
	w.t.Helper()
	if err := rebasetest.Tag(w.ctx, w.ref(src), w.ref(dst)); err != nil {
		w.t.Fatalf("tagging %s as %s: %v", src, dst, err)
	}
}

// app pushes an app built on spec.Base (relative to the registry) and returns
// its reference by digest.
func (w *world) app(repo string, spec rebasetest.AppSpec) string {
	w.t.Helper()
	spec.Base = w.ref(spec.Base)
	d, err := rebasetest.PushApp(w.ctx, w.ref(repo+":latest"), spec)
	if err != nil {
		w.t.Fatalf("pushing app %s: %v", repo, err)
	}
	return w.ref(repo + "@" + d.String())
}

// movedApp is the world most rebase tests start from: base:v1 (tagged
// stable), one app built on it into repo, then base:v2 with stable moved to
// it. It returns the app's reference by digest.
func (w *world) movedApp(repo string, spec rebasetest.AppSpec) string {
	w.t.Helper()
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app(repo, spec)
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	return app
}

func newRebaser(opts ...rebase.Option) *rebase.Rebaser {
	opts = append([]rebase.Option{
		rebase.WithKeychain(authn.NewMultiKeychain()), // anonymous: tests never read ~/.docker
		rebase.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 2}),
	}, opts...)
	r, err := rebase.New(opts...)
	if err != nil {
		panic(err) // the tests' options are right
	}
	return r
}

// streamLines runs crane-rebase-stream's line protocol over r, jobs at a time.
func streamLines(r *rebase.Rebaser, jobs int) func(context.Context, io.Reader, io.Writer, func(int, rebase.Result)) (linestream.Summary, error) {
	return func(ctx context.Context, in io.Reader, out io.Writer, each func(int, rebase.Result)) (linestream.Summary, error) {
		return linestream.Stream{Jobs: jobs, Each: each, KeepResults: true}.Run(ctx, r, in, out)
	}
}

// get fetches a manifest as the registry serves it.
func (w *world) get(ref string) *remote.Descriptor {
	w.t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		w.t.Fatal(err)
	}
	d, err := remote.Get(r, remote.WithContext(w.ctx))
	if err != nil {
		w.t.Fatalf("get %s: %v", ref, err)
	}
	return d
}

func (w *world) index(ref string) *v1.IndexManifest {
	w.t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(w.get(ref).Manifest))
	if err != nil {
		w.t.Fatal(err)
	}
	return im
}

func (w *world) manifest(ref string) *v1.Manifest {
	w.t.Helper()
	m, err := v1.ParseManifest(bytes.NewReader(w.get(ref).Manifest))
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// child is the platform manifest of an index for p.
func (w *world) child(ref string, p v1.Platform) (string, *v1.Manifest) {
	w.t.Helper()
	r, _ := name.ParseReference(ref)
	for _, d := range w.index(ref).Manifests {
		if d.Platform != nil && d.Platform.Equals(p) {
			c := r.Context().Digest(d.Digest.String()).String()
			return c, w.manifest(c)
		}
	}
	w.t.Fatalf("%s has no %v child", ref, p)
	return "", nil
}

// rawConfig fetches the config blob of an image manifest.
func (w *world) rawConfig(ref string, m *v1.Manifest) []byte {
	w.t.Helper()
	r, _ := name.ParseReference(ref)
	l, err := remote.Layer(r.Context().Digest(m.Config.Digest.String()), remote.WithContext(w.ctx))
	if err != nil {
		w.t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		w.t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		w.t.Fatal(err)
	}
	return buf.Bytes()
}

func (w *world) config(ref string, m *v1.Manifest) *v1.ConfigFile {
	w.t.Helper()
	cf, err := v1.ParseConfigFile(bytes.NewReader(w.rawConfig(ref, m)))
	if err != nil {
		w.t.Fatal(err)
	}
	return cf
}

// putManifest pushes raw as a manifest into repo, by digest.
func (w *world) putManifest(repo string, raw []byte, mt types.MediaType) string {
	w.t.Helper()
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	ref, err := name.ParseReference(w.ref(repo + "@" + h.String()))
	if err != nil {
		w.t.Fatal(err)
	}
	if err := remote.Put(ref, rawTaggable{raw, mt}, remote.WithContext(w.ctx)); err != nil {
		w.t.Fatal(err)
	}
	return ref.String()
}

type rawTaggable struct {
	b  []byte
	mt types.MediaType
}

func (r rawTaggable) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawTaggable) MediaType() (types.MediaType, error) { return r.mt, nil }

// putBlob uploads b into repo.
func (w *world) putBlob(repo string, b []byte) v1.Hash {
	w.t.Helper()
	r, err := name.NewRepository(w.ref(repo))
	if err != nil {
		w.t.Fatal(err)
	}
	l := static.NewLayer(b, types.OCIConfigJSON)
	if err := remote.WriteLayer(r, l, remote.WithContext(w.ctx)); err != nil {
		w.t.Fatal(err)
	}
	d, _ := l.Digest()
	return d
}

// editJSON decodes b into a generic map, lets edit change it, and encodes it.
func editJSON(t *testing.T, b []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func digestsOf(ds []v1.Descriptor) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Digest.String())
	}
	return s
}

func repoOf(ref string) string {
	r, _ := name.ParseReference(ref)
	return r.Context().RepositoryStr()
}

func digestOf(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}
