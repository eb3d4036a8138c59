// Package refs decides whether a string is an OCI image reference as a person
// would write one in Kubernetes YAML.
//
// go-containerregistry's name.ParseReference alone is far too permissive for
// finding references in arbitrary YAML strings: "100m", "config-logging" and
// "/etc/ssl/certs" all parse. Valid gates a candidate with the grammar of the
// distribution reference (lowercase path components, a registry host only when
// the first component has a dot, a colon or is "localhost"), and then with
// name.ParseReference, so every string it accepts is one the registry client
// can use.
//
// Use it to decide whether a string found in YAML is a reference, and to
// compare references as a registry would:
//
//	if r, ok := refs.Parse("ghcr.io/acme/app:v1@sha256:…"); ok {
//		fmt.Println(r.Repository, r.Tag, r.Digest, r.Pinned())
//	}
//	refs.Valid("/etc/ssl/certs")                              // false: a path
//	refs.SameRepository("nginx", "docker.io/library/nginx:1") // true
//	refs.UnderPrefix("gcr.io/a/b", "gcr.io/a")                // true; "gcr.io/ab" is not
package refs
