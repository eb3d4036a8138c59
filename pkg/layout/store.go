package layout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rebasekit/rebasekit/pkg/store"
)

// hostSuffix ends the host name a layout is given: .invalid is reserved
// (RFC 2606), so no registry can answer to it.
const hostSuffix = ".oci-layout.invalid"

// repoName is the repository every layout is given on its host.
const repoName = "layout"

// Store is the OCI image layouts of one run, as a store.Source and a
// store.Destination. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	byKey  map[string]*entry // cleaned absolute directory -> layout
	byHost map[string]*entry
}

// entry is one layout of the run and the tags its ref.names are given.
type entry struct {
	dir   *Dir
	host  string
	tags  map[string]string // ref.name -> tag
	names map[string]string // tag -> ref.name
}

// NewStore returns an empty Store: layouts are opened as references name
// them.
func NewStore() *Store {
	return &Store{byKey: map[string]*entry{}, byHost: map[string]*entry{}}
}

// Owns reports whether repo is a layout's name (on this Store or not: no
// registry has such a host).
func Owns(repo name.Repository) bool { return strings.HasSuffix(repo.RegistryStr(), hostSuffix) }

// Reference is r as a go-containerregistry name the engine can plan with:
// the layout's host and repository, r.Name as a tag, r.Digest as the
// digest (a name.Digest when r has one). The layout is opened the first
// time a reference names it.
func (s *Store) Reference(r Ref) (name.Reference, error) {
	e, err := s.open(r.Dir)
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(e.host + "/" + repoName)
	if err != nil {
		return nil, err
	}
	if r.Digest.Hex != "" {
		return repo.Digest(r.Digest.String()), nil
	}
	return repo.Tag(s.tag(e, r.Name)), nil
}

// Named is the reference to ref.name n in the layout of repo (a layout's
// name from Reference).
func (s *Store) Named(repo name.Repository, n string) (name.Tag, error) {
	e, err := s.entry(repo)
	if err != nil {
		return name.Tag{}, err
	}
	return repo.Tag(s.tag(e, n)), nil
}

// Spell is the layout reference ref stands for (ok false: ref is not a
// layout's).
func (s *Store) Spell(ref name.Reference) (r Ref, ok bool) {
	e, err := s.entry(ref.Context())
	if err != nil {
		return Ref{}, false
	}
	r.Dir = e.dir.dir
	switch ref := ref.(type) {
	case name.Tag:
		r.Name = s.refName(e, ref.TagStr())
	case name.Digest:
		r.Digest, _ = v1.NewHash(ref.DigestStr())
	}
	return r, true
}

// DirOf is the directory of a layout's repository, as first written.
func (s *Store) DirOf(repo name.Repository) string {
	if e, err := s.entry(repo); err == nil {
		return e.dir.dir
	}
	return repo.String()
}

// Has reports whether the layout of repo names an image n.
func (s *Store) Has(repo name.Repository, n string) (bool, error) {
	e, err := s.entry(repo)
	if err != nil {
		return false, err
	}
	_, err = e.dir.Lookup(n)
	if isAbsent(err) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) open(dir string) (*entry, error) {
	k, err := key(dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byKey[k]; ok {
		return e, nil
	}
	d, err := Open(dir)
	if err != nil {
		return nil, err
	}
	e := &entry{dir: d, host: "l" + strconv.Itoa(len(s.byKey)+1) + hostSuffix, tags: map[string]string{}, names: map[string]string{}}
	s.byKey[k], s.byHost[e.host] = e, e
	return e, nil
}

func (s *Store) entry(repo name.Repository) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byHost[repo.RegistryStr()]; ok && repo.RepositoryStr() == repoName {
		return e, nil
	}
	return nil, fmt.Errorf("%s is not an OCI layout of this run", repo)
}

// tag is the tag ref.name n is given: t1, t2... (a ref.name may hold
// characters no tag may).
func (s *Store) tag(e *entry, n string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := e.tags[n]; ok {
		return t
	}
	t := "t" + strconv.Itoa(len(e.tags)+1)
	e.tags[n], e.names[t] = t, n
	return t
}

// refName is the ref.name of tag t: the one it was given for, or t itself
// (a tag the engine makes up, such as cosign's sha256-HEX.sig).
func (s *Store) refName(e *entry, t string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := e.names[t]; ok {
		return n
	}
	return t
}

// Manifest reads ref: by digest, the blob, verified; by tag, the
// index.json entry of its ref.name, whose blob must be its digest and size.
func (s *Store) Manifest(_ context.Context, ref name.Reference) ([]byte, v1.Descriptor, error) {
	e, err := s.entry(ref.Context())
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	if d, ok := ref.(name.Digest); ok {
		h, err := v1.NewHash(d.DigestStr())
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		b, mt, err := e.dir.Manifest(h)
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		return b, v1.Descriptor{Digest: h, Size: int64(len(b)), MediaType: mt}, nil
	}
	n := s.refName(e, ref.Identifier())
	desc, err := e.dir.Lookup(n)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	b, mt, err := e.dir.Manifest(desc.Digest)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	if int64(len(b)) != desc.Size {
		return nil, v1.Descriptor{}, fmt.Errorf("%s: the manifest of %q is %d bytes, its index.json entry says %d: the layout is damaged", e.dir.dir, n, len(b), desc.Size)
	}
	if desc.MediaType != "" {
		mt = desc.MediaType
	}
	return b, v1.Descriptor{Digest: desc.Digest, Size: desc.Size, MediaType: mt}, nil
}

// Blob reads at most limit bytes of the blob ref, verified when whole.
func (s *Store) Blob(_ context.Context, ref name.Digest, limit int64) ([]byte, error) {
	e, h, err := s.blobRef(ref)
	if err != nil {
		return nil, err
	}
	return e.dir.Blob(h, limit)
}

func (s *Store) blobRef(ref name.Digest) (*entry, v1.Hash, error) {
	e, err := s.entry(ref.Context())
	if err != nil {
		return nil, v1.Hash{}, err
	}
	h, err := v1.NewHash(ref.DigestStr())
	return e, h, err
}

// Layer is the blob ref as a layer whose bytes are read, and verified, when
// asked for.
func (s *Store) Layer(_ context.Context, ref name.Digest) (v1.Layer, error) {
	e, h, err := s.blobRef(ref)
	if err != nil {
		return nil, err
	}
	return e.dir.layer(h, types.OCILayer)
}

// Image is the manifest ref as an image read from the layout, every blob
// verified.
func (s *Store) Image(ctx context.Context, ref name.Digest) (v1.Image, error) {
	e, h, err := s.blobRef(ref)
	if err != nil {
		return nil, err
	}
	raw, mt, err := e.dir.Manifest(h)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&imageCore{dir: e.dir, raw: raw, mt: mt})
}

// Tags lists the layout's ref.names that are spelled like tags: a cosign
// signature copied into a layout keeps its tag as its ref.name (skopeo copy
// docker://REPO:sha256-HEX.sig oci:DIR:sha256-HEX.sig), and the referrers
// check looks for those names as it looks for tags in a registry.
func (s *Store) Tags(_ context.Context, repo name.Repository) ([]string, error) {
	e, err := s.entry(repo)
	if err != nil {
		return nil, err
	}
	im, err := e.dir.Index()
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, d := range im.Manifests {
		if n := d.Annotations[AnnotationRefName]; tagLike.MatchString(n) {
			tags = append(tags, n)
		}
	}
	return tags, nil
}

// tagLike is a ref.name spelled as a registry tag could be (cosign's
// sha256-HEX.sig is one): the others name no attachment.
var tagLike = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Open is the layout of repo; from, when another layout of the run, is
// where layers not present are copied from.
func (s *Store) Open(_ context.Context, repo, from name.Repository, push bool) (store.Repository, error) {
	e, err := s.entry(repo)
	if err != nil {
		return nil, err
	}
	return &repository{s: s, e: e}, nil
}

// repository is a layout opened to write (store.Repository).
type repository struct {
	s *Store
	e *entry
}

func (r *repository) HasBlob(_ context.Context, h v1.Hash) (bool, error) { return r.e.dir.HasBlob(h) }

// PutLayer: a layer of the same layout is there (a no-op: no cross-store
// mounts exist); one of another layout of the run is copied, verified.
func (r *repository) PutLayer(_ context.Context, src name.Digest, desc v1.Descriptor) (int64, error) {
	if ok, err := r.e.dir.HasBlob(desc.Digest); ok || err != nil {
		return 0, err
	}
	from, err := r.s.entry(src.Context())
	if err != nil {
		return 0, fmt.Errorf("layer %s: %s has it, and a layout takes layers from layouts only: copy the base into the layout first", desc.Digest, src.Context())
	}
	rc, err := from.dir.Open(desc.Digest)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return r.e.dir.WriteBlob(desc.Digest, desc.Size, rc)
}

func (r *repository) PutBlob(_ context.Context, h v1.Hash, b []byte) error {
	_, err := r.e.dir.WriteBlob(h, int64(len(b)), bytes.NewReader(b))
	return err
}

// PutManifest writes the manifest's blob, then index.json: by digest, an
// entry without a ref.name unless one names it already; by tag, the entry
// of that ref.name points at it (the tag moves) and an untagged entry of
// the same digest goes.
func (r *repository) PutManifest(_ context.Context, id string, raw []byte, mt types.MediaType) error {
	h := sha256Of(raw)
	if _, err := r.e.dir.WriteBlob(h, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return err
	}
	desc := v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw))}
	if strings.HasPrefix(id, h.Algorithm+":") {
		if id != h.String() {
			return fmt.Errorf("manifest %s put as %s", h, id)
		}
		return r.e.dir.Update(func(im *v1.IndexManifest) (bool, error) {
			for _, m := range im.Manifests {
				if m.Digest == h {
					return false, nil
				}
			}
			im.Manifests = append(im.Manifests, desc)
			return true, nil
		})
	}
	n := r.s.refName(r.e, id)
	return r.e.dir.Update(func(im *v1.IndexManifest) (bool, error) {
		kept := im.Manifests[:0]
		found := false
		for _, m := range im.Manifests {
			switch {
			case m.Annotations[AnnotationRefName] == n:
				if found {
					return false, fmt.Errorf("%s names %d images %q in its index.json: remove all but one", r.e.dir.dir, 2, n)
				}
				found = true
				anns := map[string]string{}
				for k, v := range m.Annotations {
					anns[k] = v
				}
				d := desc
				d.Annotations, d.Platform = anns, m.Platform
				m = d
			case m.Digest == h && m.Annotations[AnnotationRefName] == "":
				continue // now named
			}
			kept = append(kept, m)
		}
		if !found {
			d := desc
			d.Annotations = map[string]string{AnnotationRefName: n}
			kept = append(kept, d)
		}
		im.Manifests = kept
		return true, nil
	})
}

func (r *repository) Manifest(_ context.Context, id string) ([]byte, types.MediaType, error) {
	h, err := v1.NewHash(id)
	if err != nil {
		desc, lerr := r.e.dir.Lookup(r.s.refName(r.e, id))
		if lerr != nil {
			return nil, "", lerr
		}
		h = desc.Digest
	}
	return r.e.dir.Manifest(h)
}

func (r *repository) Blob(_ context.Context, h v1.Hash) ([]byte, error) { return r.e.dir.Blob(h, -1) }

func (r *repository) TagDigest(_ context.Context, tag string) (v1.Hash, error) {
	desc, err := r.e.dir.Lookup(r.s.refName(r.e, tag))
	return desc.Digest, err
}

// Referrers: a layout has no referrers API.
func (r *repository) Referrers(context.Context, v1.Hash) (*v1.IndexManifest, bool, error) {
	return nil, true, nil
}

// imageCore is an image manifest of a layout (partial.CompressedImageCore).
type imageCore struct {
	dir *Dir
	raw []byte
	mt  types.MediaType
}

func (c *imageCore) MediaType() (types.MediaType, error) { return c.mt, nil }
func (c *imageCore) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *imageCore) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytes.NewReader(c.raw))
	if err != nil {
		return nil, err
	}
	return c.dir.Blob(m.Config.Digest, -1)
}
func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytes.NewReader(c.raw))
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return c.dir.compressed(h, l.Size, l.MediaType), nil
		}
	}
	return nil, fmt.Errorf("the manifest has no layer %s", h)
}

// blobLayer is a layer blob of a layout (partial.CompressedLayer).
type blobLayer struct {
	dir  *Dir
	h    v1.Hash
	size int64
	mt   types.MediaType
}

func (d *Dir) compressed(h v1.Hash, size int64, mt types.MediaType) *blobLayer {
	return &blobLayer{dir: d, h: h, size: size, mt: mt}
}

func (d *Dir) layer(h v1.Hash, mt types.MediaType) (v1.Layer, error) {
	fi, err := statBlob(d, h)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToLayer(d.compressed(h, fi, mt))
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.h, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.dir.Open(l.h) }

func isAbsent(err error) bool {
	_, ok := err.(*absent)
	return ok
}

// spelled matches a layout's name as Reference gives it, with its tag or
// digest.
var spelled = regexp.MustCompile(`\bl[0-9]+` + regexp.QuoteMeta(hostSuffix) + `/` + repoName + `(?::(t[0-9]+))?(@sha256:[0-9a-f]{64})?`)

// Respell rewrites the layout names in text (an error, a warning) as the
// user spells them: l1.oci-layout.invalid/layout:t1 as oci:DIR:NAME,
// l1.oci-layout.invalid/layout@sha256:HEX as oci:DIR@sha256:HEX.
func (s *Store) Respell(text string) string {
	if !strings.Contains(text, hostSuffix) {
		return text
	}
	return spelled.ReplaceAllStringFunc(text, func(m string) string {
		host, _, _ := strings.Cut(m, "/")
		s.mu.Lock()
		e, ok := s.byHost[host]
		s.mu.Unlock()
		if !ok {
			return m
		}
		sm := spelled.FindStringSubmatch(m)
		r := Ref{Dir: e.dir.dir}
		if sm[1] != "" {
			r.Name = s.refName(e, sm[1])
		}
		if sm[2] != "" {
			r.Digest, _ = v1.NewHash(sm[2][1:])
		}
		if r.Name == "" && r.Digest.Hex == "" {
			return Prefix + e.dir.dir
		}
		return r.String()
	})
}
