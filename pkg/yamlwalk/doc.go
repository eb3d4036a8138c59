// Package yamlwalk finds the image references in Kubernetes YAML and says
// exactly which bytes hold each one.
//
// It is the one walker that both ko-extract and ko-rewrite use, so the k-th
// reference one prints is the k-th reference the other replaces. It parses with
// kyaml (go.yaml.in/yaml/v3 nodes) one document at a time, but never
// re-serialises: every Occurrence carries the byte span of the reference in the
// original input, and a rewrite splices new text into those spans.
//
// # Use
//
// A Walker holds the selection settings; Walk calls a function for every
// selected reference, in input order, with its position and byte span:
//
//	w := &yamlwalk.Walker{Prefixes: []string{"ghcr.io/acme"}}
//	err := w.Walk("release.yaml", src, func(o *yamlwalk.Occurrence) error {
//		fmt.Printf("%s:%d:%d: %s\n", o.File, o.Line, o.Column, o.Ref)
//		return nil
//	})
//
// Collect returns the same occurrences as a slice, and CollectDocs also the
// offset where each document starts, which package rewrite uses to splice
// new references into src and verify the result. Invalid YAML is a
// *SyntaxError naming FILE:LINE:COL. Reading files (and -f, -R) is the
// caller's business.
//
// # Selection rules
//
// A string scalar in any style (plain, single- or double-quoted, literal |,
// folded >) is selected when:
//
//  1. key: it is the value of a mapping key named exactly "image" and is a
//     valid reference ("image: nginx:1.27"), but for the spec.image of a
//     Flux ImageRepository, a repository to scan that must stay bare.
//  2. pinned: the whole scalar is a reference pinned by digest
//     ("queue-sidecar-image: gcr.io/x/queue@sha256:…"), under any key or in any
//     sequence, block or flow.
//  3. prefix: prefixes are active and the whole scalar is a reference whose
//     repository is a prefix or lies under one at a "/" boundary.
//  4. embedded: a token of a longer scalar, split on whitespace, "=", ",", and
//     quotes, that satisfies rule 2 or 3 ("--sidecar=gcr.io/x@sha256:…").
//  5. marker: fields carrying a setter comment. Stacker's
//     `# {"$rebase": "ID:name"}` and `# {"$rebase": "ID:tag"}` combine per
//     document into NAME:TAG; Flux's `# {"$imagepolicy": "NS:POLICY"}` marks a
//     whole reference and its ":name", ":tag" and ":digest" forms combine the
//     same way. Markers are selected whatever the prefixes.
//  6. split: a reference written in parts, a Helm image map ([registry],
//     repository, tag and/or digest or sha) or an entry of a Kustomization's
//     top-level images: (name/newName, newTag, digest); selected like a whole
//     string, its fields never on their own (see split.go).
//
// Prefixes match as a registry reads references: docker.io/acme,
// index.docker.io/acme and acme are one prefix (see prefix.go). With
// Walker.OfficialImages, a Docker Hub prefix of one component also names the
// official image: mariadb holds mariadb:10.6.4-focal (library/mariadb) as
// well as mariadb/maxscale:1, in a whole string (rules 1 to 3, split) but not
// as a token of a longer one (rule 4: "chown mariadb:mysql /data").
//
// When prefixes are active, rules 1 to 4 select only references under them,
// and only with a tag or digest written: a bare repository ("image:
// ghcr.io/acme/podinfo", a Flux ImageRepository's) is a setting, not an image.
// Outside an image: key, a name of one component with an all-digit tag
// ("frontend:80", "kafka:9092", "- 5000:5000") is a host and port, not an
// image, under any prefix (rules 3 and 4); pinned or marked, it is selected.
// Comments, mapping keys, aliases, non-string scalars and strings that are not
// references are never selected; "ko://" strings draw a warning instead.
package yamlwalk
