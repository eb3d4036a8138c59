package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// base pushes the fixture base image (two platforms, two layers each, OCI) at
// -version to REGISTRY/REPO:VERSION and moves REGISTRY/REPO:stable to it,
// then prints its digest.
func base(args []string) error {
	fs := flag.NewFlagSet("base", flag.ExitOnError)
	registry := fs.String("registry", "", "host:port to push to")
	repo := fs.String("repo", "base", "repository")
	version := fs.String("version", "v1", "fixture version (the content of /etc/base-release)")
	fs.Parse(args)
	if *registry == "" {
		return errors.New("-registry is required")
	}
	idx, err := rebasetest.BaseIndex(*version)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, tag := range []string{*version, "stable"} {
		ref, err := name.NewTag(*registry + "/" + *repo + ":" + tag)
		if err != nil {
			return err
		}
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

// copyImages reads references HOST/FIRST/REST@DIGEST from stdin, copies each
// image (index and children, by digest) from REGISTRY/FIRST/REST to
// REGISTRY/PREFIX/REST (and tags it -tag, as ko tags :latest), and prints
// HOST/PREFIX/REST@DIGEST in input order. -registry may be another address of the same registry (the direct one,
// bypassing the proxy): images copied this way are byte for byte the ones ko
// built, with the same digests and annotations, in fresh repositories.
func copyImages(args []string) error {
	fs := flag.NewFlagSet("copy", flag.ExitOnError)
	registry := fs.String("registry", "", "host:port to copy through")
	prefix := fs.String("prefix", "", "first path component of the copies' repositories")
	tag := fs.String("tag", "", "also tag each copy (empty: by digest only)")
	fs.Parse(args)
	if *registry == "" || *prefix == "" {
		return errors.New("-registry and -prefix are required")
	}
	var in []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			in = append(in, line)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}

	out := make([]string, len(in))
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for i, line := range in {
		g.Go(func() error {
			host, path, ok := strings.Cut(line, "/")
			repo, digest, ok2 := strings.Cut(path, "@")
			_, rest, ok3 := strings.Cut(repo, "/")
			if !ok || !ok2 || !ok3 {
				return fmt.Errorf("%q: want HOST/FIRST/REST@DIGEST", line)
			}
			src, err := name.NewDigest(*registry + "/" + repo + "@" + digest)
			if err != nil {
				return err
			}
			dst, err := name.NewDigest(*registry + "/" + *prefix + "/" + rest + "@" + digest)
			if err != nil {
				return err
			}
			idx, err := remote.Index(src, remote.WithContext(ctx))
			if err != nil {
				return fmt.Errorf("read %s: %w", src, err)
			}
			if err := remote.WriteIndex(dst, idx, remote.WithContext(ctx)); err != nil {
				return fmt.Errorf("write %s: %w", dst, err)
			}
			if *tag != "" {
				if err := remote.Tag(dst.Context().Tag(*tag), idx, remote.WithContext(ctx)); err != nil {
					return fmt.Errorf("tag %s: %w", dst, err)
				}
			}
			out[i] = host + "/" + *prefix + "/" + rest + "@" + digest
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, o := range out {
		fmt.Println(o)
	}
	return nil
}
