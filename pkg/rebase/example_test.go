package rebase_test

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// Plan works out a rebase without writing anything; Write pushes it. Here
// the registry is an in-memory one holding an app built on base:v1, and
// base:stable has moved on to base:v2.
func ExampleRebaser_Plan() {
	ctx := context.Background()
	reg := rebasetest.NewRegistry()
	defer reg.Close()
	p := rebasetest.Pusher{Ctx: ctx, Host: reg.Host}
	app, err := p.UnannotatedApp("example")
	if err != nil {
		panic(err)
	}

	r, err := rebase.New(
		rebase.WithOldBase(reg.Ref("example/base:v1")),
		rebase.WithNewBase(reg.Ref("example/base:stable")),
		rebase.WithKeychain(authn.NewMultiKeychain()),
	)
	if err != nil {
		panic(err)
	}
	reg.Reset() // from here on, record what the engine asks
	plan, err := r.Plan(ctx, app)
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Action, len(plan.Platforms), "platforms")
	for _, pl := range plan.Platforms {
		fmt.Println(pl.Platform, pl.Action)
	}
	// The plan is a go-containerregistry value: check every blob of it.
	if err := validate.Index(plan.Index); err != nil {
		panic(err)
	}
	fmt.Println("writes before Write:", len(reg.Writes()))

	if err := r.Write(ctx, plan); err != nil {
		panic(err)
	}
	if err := rebasetest.Verify(ctx, plan.Output); err != nil {
		panic(err)
	}
	fmt.Println("in the registry after Write: yes")
	// Output:
	// rebased 2 platforms
	// linux/amd64 rebased
	// linux/arm64/v8 rebased
	// writes before Write: 0
	// in the registry after Write: yes
}
