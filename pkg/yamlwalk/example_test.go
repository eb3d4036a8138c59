package yamlwalk_test

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// A Walker finds the references, each with its position, rule and the
// bytes that hold it. With a prefix, only references under it are selected:
// nginx is not.
func ExampleWalker() {
	src := []byte(`apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: app
        image: ghcr.io/acme/app:v1 # the key rule
        args: ["--sidecar=ghcr.io/acme/sidecar:v2"]
      - name: proxy
        image: docker.io/library/nginx:1.27
`)
	w := &yamlwalk.Walker{Prefixes: []string{"ghcr.io/acme"}}
	err := w.Walk("deploy.yaml", src, func(o *yamlwalk.Occurrence) error {
		fmt.Printf("%s:%d:%d: %s %s (bytes %d-%d) at %s\n", o.File, o.Line, o.Column, o.Rule, o.Ref, o.Span.Start, o.Span.End, o.Path)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// deploy.yaml:8:16: key ghcr.io/acme/app:v1 (bytes 116-135) at spec.template.spec.containers[0].image
	// deploy.yaml:9:27: embedded ghcr.io/acme/sidecar:v2 (bytes 177-200) at spec.template.spec.containers[0].args[0]
}
