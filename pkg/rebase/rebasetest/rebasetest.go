// Package rebasetest builds what the rebase engine works on, the way ko
// builds it: multi-platform base images and app images made of the base's
// layers plus app layers, carrying ko's base annotations. It is the one place
// that knows ko's image layout (ko.go); the unit tests, the demo, the
// end-to-end tests and the benchmark share it.
//
// PushBase and PushApp build straight into a registry, such as the recording
// in-memory Registry. BaseIndex, BaseIndexShaped and KoApp build in memory,
// for callers that push themselves: bases with real files
// (/etc/base-release, /etc/base-arch) in the OCI, go-containerregistry and
// Docker shapes, and apps on them as ko v0.18 builds them.
//
// Everything it builds is deterministic: the same spec gives the same digests.
package rebasetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the creation time of everything PushBase and PushApp build.
// (BaseIndex and KoApp date theirs a year later, as they always have.)
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Request is one request the registry answered.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
	Bytes  int64 // of the response body
	Sent   int64 // the request body's bytes (its Content-Length)
}

func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Query != "" {
		s += "?" + r.Query
	}
	return fmt.Sprintf("%s %d", s, r.Status)
}

// Registry is go-containerregistry's in-memory registry served on 127.0.0.1,
// recording every request it answers.
type Registry struct {
	// Host is host:port, the registry part of references.
	Host string

	srv      *httptest.Server
	sessions atomic.Bool // SessionUploadsOnly
	mu       sync.Mutex
	log      []Request
}

// NewRegistry starts a registry; Close it when done. Unlike the plain
// in-memory registry it answers cross-repository mounts
// (POST .../blobs/uploads/?mount=D&from=REPO) with 201 when REPO holds D, as
// distribution's registry does, so request counts match a real registry.
// It takes the distribution spec's single-request upload (a POST
// .../uploads/?digest=D carrying the blob), as go-containerregistry's
// registry does, unless SessionUploadsOnly.
func NewRegistry(opts ...registry.Option) *Registry {
	r := &Registry{}
	opts = append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)
	h := r.sessionUploads(mountable(registry.New(opts...)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rw, req)
		r.mu.Lock()
		r.log = append(r.log, Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Status: rw.status, Bytes: rw.n, Sent: req.ContentLength})
		r.mu.Unlock()
	}))
	u, _ := url.Parse(r.srv.URL)
	r.Host = u.Host
	return r
}

// mountable adds cross-repository mounts to h.
func mountable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		d, from := q.Get("mount"), q.Get("from")
		if req.Method != http.MethodPost || d == "" || from == "" || !strings.HasSuffix(req.URL.Path, "/blobs/uploads/") {
			h.ServeHTTP(w, req)
			return
		}
		head := httptest.NewRequest(http.MethodHead, "/v2/"+from+"/blobs/"+d, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, head)
		if rec.Code != http.StatusOK {
			req.URL.RawQuery = "" // start a plain upload, as registries do
			h.ServeHTTP(w, req)
			return
		}
		w.Header().Set("Location", strings.TrimSuffix(req.URL.Path, "uploads/")+d)
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	})
}

// SessionUploadsOnly makes the registry answer a single-request upload as
// distribution's registry (docker-registry 2.8) does, which does not take
// it: with an upload session (202 and its Location), the blob sent with the
// POST ignored. Off, it stores the blob (201).
func (r *Registry) SessionUploadsOnly(on bool) { r.sessions.Store(on) }

func (r *Registry) sessionUploads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		if r.sessions.Load() && req.Method == http.MethodPost && q.Has("digest") && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") {
			io.Copy(io.Discard, req.Body)
			q.Del("digest")
			req = req.Clone(req.Context()) // the log keeps the query as sent
			req.URL.RawQuery = q.Encode()
		}
		h.ServeHTTP(w, req)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// Requests returns the requests answered since the last Reset.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log...)
}

// Reset forgets the recorded requests.
func (r *Registry) Reset() {
	r.mu.Lock()
	r.log = nil
	r.mu.Unlock()
}

// Writes returns the recorded requests that change the registry.
func (r *Registry) Writes() []Request {
	var w []Request
	for _, q := range r.Requests() {
		switch q.Method {
		case http.MethodGet, http.MethodHead:
		default:
			w = append(w, q)
		}
	}
	return w
}

// Counts tallies the recorded requests by "METHOD kind", kind being ping,
// manifest, blob, upload, tags or referrers.
func (r *Registry) Counts() map[string]int {
	c := map[string]int{}
	for _, q := range r.Requests() {
		c[q.Method+" "+Kind(q.Path)]++
	}
	return c
}

// Kind classifies a registry API path.
func Kind(path string) string {
	switch {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.Contains(path, "/blobs/uploads"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	}
	return "other"
}

// Ref is Host + "/" + repo (and tag or digest).
func (r *Registry) Ref(s string) string { return r.Host + "/" + s }

// Platforms is PushBase's default: what ko users most often build for.
// BaseIndex builds for BaseIndexPlatforms.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
}

// BaseSpec describes a base image.
type BaseSpec struct {
	// Version marks the content: bases with different versions share no layer.
	Version string
	// Platforms defaults to Platforms.
	Platforms []v1.Platform
	// Layers per platform, default 2; -1 for none (a scratch base).
	Layers int
	// Docker uses Docker media types instead of OCI.
	Docker bool
	// NoHistory leaves the config without history, like rules_oci bases.
	NoHistory bool
	// Single pushes one image (the first platform) instead of an index.
	Single bool
	// Zstd compresses the layers with zstd (OCI media types only).
	Zstd bool
}

// PushBase builds a base as spec says and pushes it to ref. Each layer adds
// one file, /etc/base/<i>, and layer 0 writes /etc/base-release holding
// "<version> <platform>", so a look at the files shows which base an image
// is on.
func PushBase(ctx context.Context, ref string, spec BaseSpec, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	opts = append(opts, remote.WithContext(ctx))
	plats := spec.Platforms
	if len(plats) == 0 {
		plats = Platforms
	}
	if spec.Layers == 0 {
		spec.Layers = 2
	}
	var imgs []v1.Image
	for _, p := range plats {
		img, err := baseImage(spec, p)
		if err != nil {
			return v1.Hash{}, err
		}
		imgs = append(imgs, img)
	}
	if spec.Single {
		if err := remote.Write(r, imgs[0], opts...); err != nil {
			return v1.Hash{}, err
		}
		return imgs[0].Digest()
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if spec.Docker {
		idx = mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	}
	for i, img := range imgs {
		p := plats[i]
		mt, err := img.MediaType()
		if err != nil {
			return v1.Hash{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: &p}})
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

func baseImage(spec BaseSpec, p v1.Platform) (v1.Image, error) {
	ps := platformString(p)
	layerMT, img := types.OCILayer, mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if spec.Docker {
		layerMT, img = types.DockerLayer, empty.Image
	}
	if spec.Zstd {
		layerMT = types.OCILayerZStd
	}
	for i := 0; i < spec.Layers; i++ {
		files := map[string]string{fmt.Sprintf("etc/base/%d", i): fmt.Sprintf("base %s %s layer %d\n", spec.Version, ps, i)}
		if i == 0 {
			files["etc/base-release"] = spec.Version + " " + ps + "\n"
		}
		l, err := Layer(files, layerMT)
		if err != nil {
			return nil, err
		}
		add := mutate.Addendum{Layer: l, MediaType: layerMT}
		if !spec.NoHistory {
			add.History = v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: fmt.Sprintf("base %s layer %d", spec.Version, i)}
		}
		var err2 error
		if img, err2 = mutate.Append(img, add); err2 != nil {
			return nil, err2
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cf.Created = v1.Time{Time: Epoch}
	cf.Author = "rebasetest"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "BASE_VERSION=" + spec.Version}
	if !spec.NoHistory {
		// A trailing empty_layer entry, as Dockerfile ENV lines write.
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "ENV BASE_VERSION=" + spec.Version, EmptyLayer: true})
	} else {
		cf.History = nil
	}
	return mutate.ConfigFile(img, cf)
}

// Layer is a deterministic gzip tar layer holding files (path -> content),
// with an entry for every directory, everything dated Epoch.
func Layer(files map[string]string, mt types.MediaType) (v1.Layer, error) {
	return tarLayer(files, mt, Epoch, true)
}

// tarLayer writes files in sorted order with fixed metadata, so the layer's
// digest is reproducible. With dirs, each directory gets an entry first and
// every file is 0644 (PushBase, PushApp); without, there are only files, in
// PAX format, those under ko-app/ executable (BaseIndex, KoApp).
func tarLayer(files map[string]string, mt types.MediaType, modTime time.Time, dirs bool) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		hdr := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), ModTime: modTime}
		if dirs {
			parts := strings.Split(n, "/")
			for i := 1; i < len(parts); i++ {
				d := strings.Join(parts[:i], "/") + "/"
				if seen[d] {
					continue
				}
				seen[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: modTime}); err != nil {
					return nil, err
				}
			}
		} else {
			hdr.Format = tar.FormatPAX
			if strings.HasPrefix(n, "ko-app/") {
				hdr.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	opts := []tarball.LayerOption{tarball.WithMediaType(mt)}
	if mt == types.OCILayerZStd {
		opts = append(opts, tarball.WithCompression(compression.ZStd))
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, opts...)
}

// AppSpec describes an app image built on a base, the way ko builds it.
type AppSpec struct {
	// Base is the base reference as given to ko, e.g. "HOST/base:stable".
	// ko records it as base.name and resolves it now.
	Base string
	// Name marks the app's content (default "app").
	Name string
	// Platforms restricts the base's platforms (default: all of them).
	// With exactly one, ko pushes a single image, not an index.
	Platforms []v1.Platform
	// NoAnnotations builds without any base annotation (other builders).
	NoAnnotations bool
	// Attestation appends a buildkit-style attestation child (unknown/unknown).
	Attestation bool
}

// PushApp builds an app as ko would on spec.Base and pushes it to ref: for each
// platform of the base, the base image plus a kodata layer and an app layer,
// laid out and annotated as koIndex (or, for one platform, koImage) says. It
// returns the pushed digest.
func PushApp(ctx context.Context, ref string, spec AppSpec, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	baseRef, err := name.ParseReference(spec.Base)
	if err != nil {
		return v1.Hash{}, err
	}
	if spec.Name == "" {
		spec.Name = "app"
	}
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(baseRef, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("base %s: %w", baseRef, err)
	}
	build := func(base v1.Image, layerType types.MediaType) (v1.Image, error) {
		return appImage(spec.Name, base, layerType)
	}
	annotate := !spec.NoAnnotations
	pushImage := func(base v1.Image, digest v1.Hash) (v1.Hash, error) {
		img, err := koImage(base, baseRef.Name(), digest, annotate, build)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := remote.Write(r, img, opts...); err != nil {
			return v1.Hash{}, err
		}
		return img.Digest()
	}
	if !desc.MediaType.IsIndex() {
		base, err := desc.Image()
		if err != nil {
			return v1.Hash{}, err
		}
		return pushImage(base, desc.Digest)
	}
	baseIdx, err := desc.ImageIndex()
	if err != nil {
		return v1.Hash{}, err
	}
	matches, err := platformChildren(baseIdx, spec.Platforms)
	if err != nil {
		return v1.Hash{}, err
	}
	if len(matches) == 0 {
		return v1.Hash{}, fmt.Errorf("no matching platforms in base %s", baseRef)
	}
	if len(matches) == 1 {
		base, err := baseIdx.Image(matches[0].Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		return pushImage(base, matches[0].Digest)
	}
	idx, adds, err := koIndex(baseIdx, baseRef.Name(), matches, annotate, build)
	if err != nil {
		return v1.Hash{}, err
	}
	if spec.Attestation {
		att, err := attestationChild(spec.Name, adds[0])
		if err != nil {
			return v1.Hash{}, err
		}
		adds = append(adds, att)
	}
	// The children keep the artifactType mutate.AppendManifests writes.
	idx = mutate.AppendManifests(idx, adds...)
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// platformChildren are the children of idx with a platform among ps (any
// platform when ps is empty), in the index's order.
func platformChildren(idx v1.ImageIndex, ps []v1.Platform) ([]v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var matches []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Platform != nil && (len(ps) == 0 || hasPlatform(ps, *d.Platform)) {
			matches = append(matches, d)
		}
	}
	return matches, nil
}

// attestationChild is a buildkit-style attestation of first, as an index
// child (unknown/unknown).
func attestationChild(app string, first mutate.IndexAddendum) (mutate.IndexAddendum, error) {
	d, err := first.Add.Digest()
	if err != nil {
		return mutate.IndexAddendum{}, err
	}
	att, err := attestation(app)
	if err != nil {
		return mutate.IndexAddendum{}, err
	}
	return mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		MediaType: types.OCIManifestSchema1,
		Platform:  &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{
			"vnd.docker.reference.type":   "attestation-manifest",
			"vnd.docker.reference.digest": d.String(),
		},
	}}, nil
}

// appImage adds to base (annotated by koImage) a kodata layer and a binary
// layer for app, with ko's history, entrypoint and environment.
func appImage(app string, base v1.Image, layerType types.MediaType) (v1.Image, error) {
	kodata, err := Layer(map[string]string{"var/run/ko/" + app + ".txt": "kodata of " + app + "\n"}, layerType)
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	bin, err := Layer(map[string]string{"ko-app/" + app: "binary " + app + " for " + cf.OS + "/" + cf.Architecture + "\n"}, layerType)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base,
		mutate.Addendum{Layer: kodata, MediaType: layerType, History: v1.History{
			Author: "ko", Created: v1.Time{Time: Epoch}, CreatedBy: "ko build ko://example.com/" + app,
			Comment: "kodata contents, at $KO_DATA_PATH",
		}},
		mutate.Addendum{Layer: bin, MediaType: layerType, History: v1.History{
			Author: "ko", Created: v1.Time{Time: Epoch}, CreatedBy: "ko build ko://example.com/" + app,
			Comment: "go build output, at /ko-app/" + app,
		}},
	)
	if err != nil {
		return nil, err
	}
	cf, err = img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/ko-app/" + app}
	cf.Config.Env = append(cf.Config.Env, "KO_DATA_PATH=/var/run/ko")
	cf.Author = "github.com/ko-build/ko"
	return mutate.ConfigFile(img, cf)
}

func attestation(name string) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Append(img, mutate.Addendum{
		Layer:     static.NewLayer([]byte(`{"predicateType":"https://slsa.dev/provenance/v0.2","subject":"`+name+`"}`), "application/vnd.in-toto+json"),
		MediaType: "application/vnd.in-toto+json",
	})
}

func hasPlatform(ps []v1.Platform, p v1.Platform) bool {
	for _, q := range ps {
		if q.OS == p.OS && q.Architecture == p.Architecture && q.Variant == p.Variant {
			return true
		}
	}
	return false
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Tag points tag (a full reference) at what src names, like `crane tag`.
func Tag(ctx context.Context, src, tag string, opts ...remote.Option) error {
	s, err := name.ParseReference(src)
	if err != nil {
		return err
	}
	t, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	opts = append(opts, remote.WithContext(ctx))
	d, err := remote.Get(s, opts...)
	if err != nil {
		return err
	}
	return remote.Tag(t, d, opts...)
}

// Files reads the flattened filesystem of ref for platform p (ref may be an
// index or an image), like `crane export`: path -> content, regular files only.
func Files(ctx context.Context, ref string, p v1.Platform, opts ...remote.Option) (map[string]string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	opts = append(opts, remote.WithContext(ctx), remote.WithPlatform(p))
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, err
	}
	return ImageFiles(img)
}

// ImageFiles flattens img like `crane export` and returns its regular files:
// path (without a leading "/" or "./") -> content.
func ImageFiles(img v1.Image) (map[string]string, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = string(b)
	}
}

// CheckComplete fetches every manifest, config and layer that ref (pinned by
// digest) names straight from the registry at host, over plain HTTP, and
// checks each one's digest: a nil error means ref names a whole image.
func CheckComplete(ctx context.Context, host, ref string) error {
	d, err := name.NewDigest(ref)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	repo := d.Context().RepositoryStr()
	get := func(kind, digest string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/"+repo+"/"+kind+"/"+digest, nil)
		if err != nil {
			return nil, err
		}
		for _, mt := range []types.MediaType{types.OCIImageIndex, types.OCIManifestSchema1, types.DockerManifestList, types.DockerManifestSchema2} {
			req.Header.Add("Accept", string(mt))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", ref, kind, digest, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s %s: %s %v", ref, kind, digest, resp.Status, err)
		}
		sum := sha256.Sum256(b)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
			return nil, fmt.Errorf("%s: %s %s has digest %s", ref, kind, digest, got)
		}
		return b, nil
	}
	var walk func(digest string) error
	walk = func(digest string) error {
		raw, err := get("manifests", digest)
		if err != nil {
			return err
		}
		if im, err := v1.ParseIndexManifest(bytes.NewReader(raw)); err == nil && im.MediaType.IsIndex() {
			for _, c := range im.Manifests {
				if err := walk(c.Digest.String()); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s: manifest %s: %w", ref, digest, err)
		}
		for _, blob := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if _, err := get("blobs", blob.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(d.DigestStr())
}
