package pipeline_test

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// The list both ends of the pipeline count: each reference once, by its
// first occurrence.
func ExampleUnique() {
	var occs []*yamlwalk.Occurrence
	for _, ref := range []string{"nginx:1", "redis:7", "nginx:1", "app:v2"} {
		occs = append(occs, &yamlwalk.Occurrence{Ref: ref})
	}
	for k, o := range pipeline.Unique(occs) {
		fmt.Println(k+1, o.Ref)
	}
	// Output:
	// 1 nginx:1
	// 2 redis:7
	// 3 app:v2
}

// A line written as a Pair reads back as the same two references.
func ExamplePair() {
	line := pipeline.Pair("ghcr.io/acme/app:v1", "ghcr.io/acme/app:v1@sha256:0123")
	fmt.Println(line)
	fmt.Println(pipeline.Fields(line))
	fmt.Println(pipeline.Ignored("  # a comment"), pipeline.Ignored(line))
	// Output:
	// ghcr.io/acme/app:v1 ghcr.io/acme/app:v1@sha256:0123
	// [ghcr.io/acme/app:v1 ghcr.io/acme/app:v1@sha256:0123]
	// true false
}
