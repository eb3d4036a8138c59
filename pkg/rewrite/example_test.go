package rewrite_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
)

// File rewrites one file in one call: the stream (here in the OLD NEW form)
// names what changes, and only those bytes do; the comment, the quotes and
// the other reference stay.
func ExampleFile() {
	src := []byte(`spec:
  containers:
  - image: "ghcr.io/acme/app:v1"  # the app
  - image: docker.io/library/redis:7
`)
	img, err := rewrite.ParseImages(strings.NewReader(
		"ghcr.io/acme/app:v1 ghcr.io/acme/app:v1@sha256:" + strings.Repeat("a", 64) + "\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := rewrite.File(&yamlwalk.Walker{}, "deploy.yaml", src, img)
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.Write(out)
	// Output:
	// spec:
	//   containers:
	//   - image: "ghcr.io/acme/app:v1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # the app
	//   - image: docker.io/library/redis:7
}

// A refused rewrite returns an error naming FILE:LINE:COL and no output.
func ExampleFile_refused() {
	src := []byte("image: ghcr.io/acme/app:v1\n")
	img, _ := rewrite.ParseImages(strings.NewReader("ghcr.io/evil/app:v1\n"))
	_, err := rewrite.File(&yamlwalk.Walker{}, "deploy.yaml", src, img)
	fmt.Println(err)
	// Output:
	// deploy.yaml:1:8: "ghcr.io/acme/app:v1" would be replaced by "ghcr.io/evil/app:v1", an image in another repository: the streams may be misaligned
}

// A Rewriter rewrites several files with one stream, as ko-rewrite does:
// line k replaces the k-th unique reference of the whole set.
func ExampleRewriter() {
	rw := &rewrite.Rewriter{Walker: &yamlwalk.Walker{}}
	rw.Add("a.yaml", []byte("image: nginx:1.27\n"))
	rw.Add("b.yaml", []byte("image: redis:7 # cache\n---\nimage: nginx:1.27\n"))
	img, _ := rewrite.ParseImages(strings.NewReader("nginx:1.28\nredis:7\n"))
	if err := rw.Rewrite(img); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rw.Files() {
		fmt.Printf("%s changed=%v\n%s", f.Name, f.Changed(), f.Out)
	}
	// Output:
	// a.yaml changed=true
	// image: nginx:1.28
	// b.yaml changed=true
	// image: redis:7 # cache
	// ---
	// image: nginx:1.28
}
