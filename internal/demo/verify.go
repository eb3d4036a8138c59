package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// verify checks the outcome the way a sceptical user would, so the demo fails
// loudly instead of printing a pretty table over a wrong result:
//   - rebased.yaml is release.yaml with only our three refs replaced;
//   - every platform of every rebased image is the new base's layers plus the
//     app's own layer, its annotations name the new base, and its flattened
//     file system shows /etc/base-release = v2 and the app binary.
func verify(ctx context.Context, out io.Writer, release, work, host string, refs map[string]string, oldBase, newBase v1.ImageIndex) error {
	b, err := os.ReadFile(filepath.Join(work, "rebased.yaml"))
	if err != nil {
		return err
	}
	rebased := string(b)
	restored := rebased
	newRefs := map[string]string{}
	for _, app := range apps {
		re := regexp.MustCompile(regexp.QuoteMeta(host+"/apps/"+app) + `@sha256:[0-9a-f]{64}`)
		found := map[string]bool{}
		for _, m := range re.FindAllString(rebased, -1) {
			found[m] = true
		}
		if len(found) != 1 {
			return fmt.Errorf("rebased.yaml: want one reference to apps/%s, found %d", app, len(found))
		}
		for m := range found {
			newRefs[app] = m
		}
		if newRefs[app] == refs[app] {
			return fmt.Errorf("rebased.yaml: apps/%s was not rebased", app)
		}
		restored = strings.ReplaceAll(restored, newRefs[app], refs[app])
	}
	if restored != release {
		return fmt.Errorf("rebased.yaml changed more than the image references")
	}

	oldChildren, err := children(oldBase)
	if err != nil {
		return err
	}
	newChildren, err := children(newBase)
	if err != nil {
		return err
	}
	newBaseDigest, _ := newBase.Digest()
	for _, app := range apps {
		ref, err := name.ParseReference(newRefs[app])
		if err != nil {
			return err
		}
		idx, err := remote.Index(ref, remote.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		if got := im.Annotations[rebasetest.AnnotationBaseName]; got != host+"/base:stable" {
			return fmt.Errorf("%s: index base.name = %q", app, got)
		}
		if got := im.Annotations[rebasetest.AnnotationBaseDigest]; got != newBaseDigest.String() {
			return fmt.Errorf("%s: index base.digest = %s, want base:v2 %s", app, got, newBaseDigest)
		}
		if len(im.Manifests) != len(rebasetest.BaseIndexPlatforms) {
			return fmt.Errorf("%s: %d platforms, want %d", app, len(im.Manifests), len(rebasetest.BaseIndexPlatforms))
		}
		var plats []string
		for _, desc := range im.Manifests {
			p := desc.Platform.String()
			plats = append(plats, p)
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return err
			}
			if err := checkPlatform(img, app, newChildren[p], oldChildren[p]); err != nil {
				return fmt.Errorf("%s %s: %w", app, p, err)
			}
		}
		fmt.Fprintf(out, "verified %-8s %s: new-base layers + app layer, base.digest -> base:v2, /etc/base-release = v2\n",
			app, strings.Join(plats, ", "))
	}
	return nil
}

// child is one platform image of a base index.
type child struct {
	digest v1.Hash
	image  v1.Image
}

func children(idx v1.ImageIndex) (map[string]child, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	m := map[string]child{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		m[d.Platform.String()] = child{d.Digest, img}
	}
	return m, nil
}

func checkPlatform(img v1.Image, app string, newBase, oldBase child) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if got := m.Annotations[rebasetest.AnnotationBaseDigest]; got != newBase.digest.String() {
		return fmt.Errorf("base.digest = %s, want the new base %s", got, newBase.digest)
	}
	baseLayers, err := newBase.image.Layers()
	if err != nil {
		return err
	}
	oldLayers, err := oldBase.image.Layers()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(baseLayers)+1 {
		return fmt.Errorf("%d layers, want %d base layers + 1 app layer", len(layers), len(baseLayers))
	}
	for i, l := range baseLayers {
		want, _ := l.Digest()
		got, _ := layers[i].Digest()
		if got != want {
			return fmt.Errorf("layer %d is %s, want new base layer %s", i, got, want)
		}
	}
	for _, l := range oldLayers {
		d, _ := l.Digest()
		for _, nl := range layers {
			if nd, _ := nl.Digest(); nd == d {
				return fmt.Errorf("old base layer %s still present", d)
			}
		}
	}
	files, err := rebasetest.ImageFiles(img)
	if err != nil {
		return err
	}
	if files["etc/base-release"] != "v2\n" {
		return fmt.Errorf("/etc/base-release = %q, want v2", files["etc/base-release"])
	}
	if _, ok := files["ko-app/"+app]; !ok {
		return fmt.Errorf("/ko-app/%s missing", app)
	}
	return nil
}
