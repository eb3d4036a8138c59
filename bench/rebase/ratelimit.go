package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rebasekit/rebasekit/internal/distreg"
	"github.com/rebasekit/rebasekit/internal/faultproxy"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// ratelimit runs issue 17's rate-limit scenarios against docker-registry
// behind internal/faultproxy, for each crane-rebase-stream binary given:
//
//	budget      a Docker Hub-style pull budget (-pulls per -window, every
//	            manifest GET a pull, 429 with Retry-After until the window
//	            resets) and -images two-platform images
//	retry-after one image, every request answered 429 Retry-After: 6 for 8 s
//
// Each run rebases its own copy of the images (fresh repositories). It
// prints one line a run: lines rebased, exit status, wall time, pulls and
// answers of 429.
func ratelimit(args []string) error {
	fs := flag.NewFlagSet("ratelimit", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the registry")
	images := fs.Int("images", 12, "two-platform images in the budget scenario")
	pulls := fs.Int("pulls", 15, "pulls per window")
	window := fs.Duration("window", 4*time.Second, "the budget's window")
	fs.Parse(args)
	if *dir == "" || fs.NArg() == 0 {
		return errors.New("usage: ratelimit -dir DIR BINARY...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	reg, err := distreg.Start(ctx, *dir, distreg.Options{LogLevel: "warn"})
	if err != nil {
		return err
	}
	defer reg.Stop()
	px, err := faultproxy.New(reg.Host, faultproxy.Config{})
	if err != nil {
		return err
	}
	defer px.Close()
	for i, bin := range fs.Args() {
		for _, sc := range []struct {
			name string
			n    int
			cfg  faultproxy.Config
		}{
			{fmt.Sprintf("budget %d pulls/%s, %d images", *pulls, *window, *images), *images, faultproxy.Config{Budget: &faultproxy.Budget{Pulls: *pulls, Window: *window}}},
			{"retry-after 6s for 8s, 1 image", 1, faultproxy.Config{Throttle: &faultproxy.Throttle{RetryAfter: 6 * time.Second, For: 8 * time.Second}}},
		} {
			px.Set(faultproxy.Config{})
			refs, err := limitedApps(ctx, px.Host, fmt.Sprintf("run%d-%d", i, sc.n), sc.n)
			if err != nil {
				return err
			}
			px.Set(sc.cfg)
			px.ResetStats()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Stdin = strings.NewReader(strings.Join(refs, "\n") + "\n")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			err = cmd.Run()
			took := time.Since(start)
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				return err
			}
			rebased := 0
			for j, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if j < len(refs) && l != refs[j] {
					rebased++
				}
			}
			st := px.Stats()
			fmt.Printf("%s\t%s\trebased %d/%d\texit %d\t%.2f s\t%d pulls\t%d answers of 429\n",
				bin, sc.name, rebased, len(refs), code, took.Seconds(), st.Pulls, st.OverBudget+st.Throttled)
			if os.Getenv("VERBOSE") != "" {
				os.Stderr.Write(errb.Bytes())
			}
		}
	}
	return nil
}

// limitedApps pushes n two-platform apps on PREFIX/base:stable, moves the
// base, and returns the apps by digest.
func limitedApps(ctx context.Context, host, prefix string, n int) ([]string, error) {
	ref := func(s string) string { return host + "/" + prefix + "/" + s }
	if _, err := rebasetest.PushBase(ctx, ref("base:v1"), rebasetest.BaseSpec{Version: "v1"}); err != nil {
		return nil, err
	}
	if err := rebasetest.Tag(ctx, ref("base:v1"), ref("base:stable")); err != nil {
		return nil, err
	}
	var refs []string
	for i := range n {
		d, err := rebasetest.PushApp(ctx, ref(fmt.Sprintf("app%d:v1", i)), rebasetest.AppSpec{Base: ref("base:stable"), Name: fmt.Sprint("app", i)})
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref(fmt.Sprintf("app%d@%s", i, d)))
	}
	if _, err := rebasetest.PushBase(ctx, ref("base:v2"), rebasetest.BaseSpec{Version: "v2"}); err != nil {
		return nil, err
	}
	return refs, rebasetest.Tag(ctx, ref("base:v2"), ref("base:stable"))
}
