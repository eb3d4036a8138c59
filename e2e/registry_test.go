package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/internal/distreg"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// registry is a docker-registry (CNCF distribution 2.8) process serving a
// directory on a free loopback port, with the checks the tests make on it.
type registry struct {
	*distreg.Registry
}

// startRegistry starts docker-registry with deletes enabled (the failure
// tests remove a base's child) and waits until /v2/ answers.
func startRegistry(ctx context.Context, dir string) (*registry, error) {
	return startRegistryWithConfig(ctx, dir, "")
}

// startRegistryWithConfig is startRegistry with extra top-level
// configuration appended (e.g. an auth: section). /v2/ answering 401 counts
// as up then.
func startRegistryWithConfig(ctx context.Context, dir, extra string) (*registry, error) {
	r, err := distreg.Start(ctx, dir, distreg.Options{Delete: true, Extra: extra})
	if err != nil {
		return nil, err
	}
	return &registry{Registry: r}, nil
}

func (r *registry) stop() { r.Stop() }

// snapshot lists every file of the registry's storage with its size and
// modification time: if a run pushes anything (a blob, a manifest, a tag, a
// link) the snapshot changes.
func (r *registry) snapshot() (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(r.Storage, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.Storage, p)
		if d.IsDir() {
			m[rel+"/"] = "dir"
		} else {
			m[rel] = fmt.Sprintf("%d bytes, %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
		}
		return nil
	})
	return m, err
}

// apiState is what a user sees through the registry API: every repository,
// its tags, and the digest each tag points at.
func (r *registry) apiState(ctx context.Context) (map[string]string, error) {
	var catalog struct {
		Repositories []string `json:"repositories"`
	}
	if err := r.getJSON(ctx, "/v2/_catalog?n=1000", &catalog); err != nil {
		return nil, err
	}
	state := map[string]string{}
	for _, repo := range catalog.Repositories {
		var tags struct {
			Tags []string `json:"tags"`
		}
		if err := r.getJSON(ctx, "/v2/"+repo+"/tags/list", &tags); err != nil {
			return nil, err
		}
		state[repo] = "repository"
		for _, tag := range tags.Tags {
			ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
			if err != nil {
				return nil, err
			}
			desc, err := remote.Head(ref, remote.WithContext(ctx))
			if err != nil {
				return nil, err
			}
			state[repo+":"+tag] = desc.Digest.String()
		}
	}
	return state, nil
}

func (r *registry) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// deleteManifest deletes repo@digest through the registry API.
func (r *registry) deleteManifest(ctx context.Context, repo string, digest v1.Hash) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete,
		"http://"+r.Host+"/v2/"+repo+"/manifests/"+digest.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("DELETE %s@%s: %s: %s", repo, digest, resp.Status, body)
	}
	return nil
}

// pushBase pushes the fixture base at version to repo:<version> and moves
// repo:stable to it.
func pushBase(ctx context.Context, repo, version string) (v1.ImageIndex, error) {
	return pushBaseShaped(ctx, repo, version, rebasetest.OCI)
}

// pushBaseShaped is pushBase for a base of the given shape.
func pushBaseShaped(ctx context.Context, repo, version string, shape rebasetest.Shape) (v1.ImageIndex, error) {
	idx, err := rebasetest.BaseIndexShaped(version, shape)
	if err != nil {
		return nil, err
	}
	for _, tag := range []string{version, "stable"} {
		if err := pushIndex(ctx, repo+":"+tag, idx); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// pushIndex pushes idx as suite.host/ref (ref is "repo:tag").
func pushIndex(ctx context.Context, ref string, idx v1.ImageIndex) error {
	r, err := name.ParseReference(suite.host + "/" + ref)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", r, err)
	}
	return nil
}

// findRef returns the one digest reference to repo in text, however many
// times it occurs.
func findRef(text []byte, repo string) (string, error) {
	re := regexp.MustCompile(regexp.QuoteMeta(repo) + `@sha256:[0-9a-f]{64}`)
	found := map[string]bool{}
	for _, m := range re.FindAll(text, -1) {
		found[string(m)] = true
	}
	if len(found) != 1 {
		var all []string
		for m := range found {
			all = append(all, m)
		}
		sort.Strings(all)
		return "", fmt.Errorf("want exactly one reference to %s, found %d: %s", repo, len(found), strings.Join(all, " "))
	}
	for m := range found {
		return m, nil
	}
	panic("unreachable")
}
