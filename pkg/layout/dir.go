package layout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/rebasekit/rebasekit/pkg/atomicfile"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// AnnotationRefName is the index.json annotation that names an image in a
// layout (the image-spec's org.opencontainers.image.ref.name).
const AnnotationRefName = imagespec.AnnotationRefName

// Dir is one OCI image layout directory. Its methods are safe for
// concurrent use; writes to index.json are serialized.
type Dir struct {
	dir string // as the user wrote it, for messages

	mu sync.Mutex // held while index.json is read, changed and replaced
}

// Open opens the layout at dir: it must have an oci-layout file and an
// index.json (skopeo, oras and crane write both).
func Open(dir string) (*Dir, error) {
	for _, f := range []string{"oci-layout", "index.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not an OCI image layout: it has no %s file", dir, f)
		} else if err != nil {
			return nil, err
		}
	}
	return &Dir{dir: dir}, nil
}

// notFound is an absence, as store.ErrNotFound.
func (d *Dir) notFound(format string, args ...any) error {
	return &absent{fmt.Sprintf(format, args...)}
}

// absent is what a layout does not have: store.ErrNotFound, in its own words.
type absent struct{ msg string }

func (e *absent) Error() string        { return e.msg }
func (e *absent) Is(target error) bool { return target == store.ErrNotFound }

// Index reads index.json.
func (d *Dir) Index() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, "index.json"))
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s/index.json: %w", d.dir, err)
	}
	return im, nil
}

// Lookup is the index.json descriptor named n (its ref.name). Two entries
// of one name are refused: nothing says which is meant.
func (d *Dir) Lookup(n string) (v1.Descriptor, error) {
	im, err := d.Index()
	if err != nil {
		return v1.Descriptor{}, err
	}
	var found []v1.Descriptor
	for _, m := range im.Manifests {
		if m.Annotations[AnnotationRefName] == n {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, d.notFound("%s has no image named %q in its index.json (%s)", d.dir, n, AnnotationRefName)
	case 1:
		return found[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("%s names %d images %q in its index.json: remove all but one", d.dir, len(found), n)
}

// Blob reads the blob h, at most limit bytes (limit < 0: no limit), and
// verifies it is h.
func (d *Dir) Blob(h v1.Hash, limit int64) ([]byte, error) {
	rc, err := d.Open(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r := io.Reader(rc)
	if limit >= 0 {
		r = io.LimitReader(rc, limit)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit >= 0 && int64(len(b)) == limit {
		return b, nil // too large: the caller says so; the bytes are not verified
	}
	if got := sha256Of(b); h.Algorithm == "sha256" && got != h {
		return nil, &DigestError{File: d.blobPath(h), Want: h, Got: got}
	}
	return b, nil
}

// Open opens the blob h for reading; the reader verifies h at EOF.
func (d *Dir) Open(h v1.Hash) (io.ReadCloser, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("%s: blob %s: only sha256 digests are read", d.dir, h)
	}
	f, err := os.Open(d.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, d.notFound("%s has no blob %s", d.dir, h)
	}
	if err != nil {
		return nil, err
	}
	return &verifier{f: f, h: sha256.New(), want: h, what: d.blobPath(h)}, nil
}

// Manifest reads the manifest h: its bytes, verified, and its media type
// (the JSON's mediaType, else what its fields say it is).
func (d *Dir) Manifest(h v1.Hash) ([]byte, types.MediaType, error) {
	b, err := d.Blob(h, -1)
	if err != nil {
		return nil, "", err
	}
	return b, mediaType(b), nil
}

// mediaType is a manifest's mediaType field, else an OCI index when it has
// manifests, else an OCI image manifest.
func mediaType(b []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType  `json:"mediaType"`
		Manifests *json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(b, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}

// HasBlob reports whether blobs/ has h.
func (d *Dir) HasBlob(h v1.Hash) (bool, error) {
	_, err := os.Stat(d.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *Dir) blobPath(h v1.Hash) string { return filepath.Join(d.dir, "blobs", h.Algorithm, h.Hex) }

// WriteBlob makes blob h present, reading it from r when it is not: to a
// temporary file beside it, verified against h (and size, when not
// negative), then renamed into place. It reports the bytes it wrote (0:
// the blob was there).
func (d *Dir) WriteBlob(h v1.Hash, size int64, r io.Reader) (int64, error) {
	if h.Algorithm != "sha256" {
		return 0, fmt.Errorf("%s: blob %s: only sha256 digests are written", d.dir, h)
	}
	if ok, err := d.HasBlob(h); ok || err != nil {
		return 0, err
	}
	dir := filepath.Join(d.dir, "blobs", h.Algorithm)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, "."+h.Hex+".rebasekit-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	hw := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, hw), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: writing blob %s: %w", d.dir, h, err)
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hw.Sum(nil))}); got != h {
		return 0, &DigestError{File: d.blobPath(h) + " (the bytes copied in)", Want: h, Got: got}
	}
	if size >= 0 && n != size {
		return 0, fmt.Errorf("%s: blob %s is %d bytes, its descriptor says %d", d.dir, h, n, size)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), d.blobPath(h)); err != nil {
		return 0, err
	}
	return n, nil
}

// Update replaces index.json with what edit makes of it, atomically: a
// reader sees the old index.json or the new one, and a crash leaves one of
// them. edit returning false leaves the file untouched.
func (d *Dir) Update(edit func(im *v1.IndexManifest) (changed bool, err error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	path := filepath.Join(d.dir, "index.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// Edit the JSON as an object, so that fields go-containerregistry's
	// type does not know (and the index's own annotations) are kept.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	changed, err := edit(im)
	if err != nil || !changed {
		return err
	}
	ms, err := json.Marshal(im.Manifests)
	if err != nil {
		return err
	}
	doc["manifests"] = ms
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(real, out)
}

// verifier reads a blob and fails at EOF when its bytes are not its digest.
type verifier struct {
	f *os.File
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	want v1.Hash
	what string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(v.h.Sum(nil))}); got != v.want {
			return n, &DigestError{File: v.what, Want: v.want, Got: got}
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

func sha256Of(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// DigestError is a blob whose bytes are not the digest that names it: a
// damaged layout (or a copy that went wrong), never used.
type DigestError struct {
	File      string
	Want, Got v1.Hash
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s does not hold %s (its bytes are %s): the layout is damaged; copy the image into it again", e.File, e.Want, e.Got)
}

// statBlob is the size of blob h.
func statBlob(d *Dir, h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, d.notFound("%s has no blob %s", d.dir, h)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
