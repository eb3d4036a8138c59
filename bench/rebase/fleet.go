package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// fleet pushes -images ko-style apps (every platform of the base, ko's layout
// and annotations: rebasetest.PushApp) spread over -repos repositories
// PREFIX/svcNNN of -registry, each tagged -tag, built on -base (the base as
// ko is given it: its base.name, resolved now), and prints each as
// HOST/PREFIX/svcNNN@DIGEST, HOST being -host (default -registry), in order.
// It pushes -jobs at once. The test builders stand in for ko, which is too
// slow for a thousand images.
func fleet(args []string) error {
	fs := flag.NewFlagSet("fleet", flag.ExitOnError)
	registry := fs.String("registry", "", "host:port to push to")
	host := fs.String("host", "", "host:port the printed references name (default: -registry)")
	baseRef := fs.String("base", "", "the base, e.g. HOST/base:stable")
	prefix := fs.String("prefix", "fleet", "repository prefix")
	images := fs.Int("images", 1000, "images")
	repos := fs.Int("repos", 100, "repositories (images spread round robin)")
	jobs := fs.Int("jobs", 16, "pushes at once")
	fs.Parse(args)
	if *registry == "" || *baseRef == "" || *repos < 1 {
		return errors.New("-registry and -base are required, -repos at least 1")
	}
	if *host == "" {
		*host = *registry
	}
	ctx := context.Background()
	out := make([]string, *images)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*jobs)
	for i := range *images {
		g.Go(func() error {
			repo := fmt.Sprintf("%s/svc%03d", *prefix, i%*repos)
			tag := fmt.Sprintf("v%d", i / *repos)
			d, err := rebasetest.PushApp(gctx, *registry+"/"+repo+":"+tag, rebasetest.AppSpec{Base: *baseRef, Name: fmt.Sprintf("app%d", i)}, remote.WithJobs(4))
			if err != nil {
				return fmt.Errorf("%s: %w", repo, err)
			}
			out[i] = *host + "/" + repo + "@" + d.String()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Println(strings.Join(out, "\n"))
	return nil
}
