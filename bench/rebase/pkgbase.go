package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// pkgbase pushes a base whose one layer (as Chainguard's images have) holds
// an apk database of -packages packages (version 1.0.N-r0 at v1; at v2,
// every tenth package upgraded to -r1, one added, one removed) and -size
// bytes of incompressible files (the bulk of the base's files, other at each
// version and platform), for each of ko's two platforms,
// to REGISTRY/REPO:VERSION and REPO:stable. It is the base of
// bench/summary.sh: what reading and diffing its package lists costs.
func pkgbase(args []string) error {
	fs := flag.NewFlagSet("pkgbase", flag.ExitOnError)
	registry := fs.String("registry", "", "host:port to push to")
	repo := fs.String("repo", "pkgbase", "repository")
	version := fs.String("version", "v1", "v1 or v2")
	n := fs.Int("packages", 200, "packages in the apk database")
	size := fs.Int("size", 8<<20, "bytes of other files (in a layer of their own)")
	fs.Parse(args)
	if *registry == "" {
		return errors.New("-registry is required")
	}
	var ps []packages.Package
	for i := range *n {
		v := fmt.Sprintf("1.0.%d-r0", i)
		if *version == "v2" && i%10 == 0 {
			v = strings.TrimSuffix(v, "r0") + "r1"
		}
		if *version == "v2" && i == 1 {
			continue // removed
		}
		ps = append(ps, packages.Package{Name: fmt.Sprintf("pkg%04d", i), Version: v})
	}
	if *version == "v2" {
		ps = append(ps, packages.Package{Name: "pkg-added", Version: "1.0.0-r0"})
	}
	db := packagestest.APKInstalled(ps...)
	layers := func(p v1.Platform) []map[string]string {
		var seed uint64
		for _, c := range *version + " " + p.Architecture {
			seed = seed*31 + uint64(c)
		}
		rnd := rand.New(rand.NewPCG(seed, 2))
		bulk := make([]byte, *size)
		for i := range bulk {
			bulk[i] = byte(rnd.Uint32())
		}
		return []map[string]string{{"usr/lib/bulk.bin": string(bulk), "lib/apk/db/installed": db}}
	}
	ctx := context.Background()
	ref := *registry + "/" + *repo + ":" + *version
	d, _, err := packagestest.PushBaseFor(ctx, ref, *version, layers)
	if err != nil {
		return err
	}
	if err := rebasetest.Tag(ctx, ref, *registry+"/"+*repo+":stable"); err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
