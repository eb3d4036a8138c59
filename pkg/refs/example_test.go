package refs_test

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/refs"
)

// The calls the package documentation shows.
func Example() {
	if r, ok := refs.Parse("ghcr.io/acme/app:v1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); ok {
		fmt.Println(r.Repository, r.Tag, r.Digest, r.Pinned())
	}
	fmt.Println(refs.Valid("/etc/ssl/certs"))
	fmt.Println(refs.SameRepository("nginx", "docker.io/library/nginx:1"))
	fmt.Println(refs.UnderPrefix("gcr.io/a/b", "gcr.io/a"), refs.UnderPrefix("gcr.io/ab", "gcr.io/a"))
	// Output:
	// ghcr.io/acme/app v1 sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa true
	// false
	// true
	// true false
}
