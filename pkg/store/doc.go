// Package store says where the engine reads images from and where it
// writes them: a Source and a Destination, the only two doors between the
// planner (package rebase) and the places images live. The planner decides
// what to write; a Destination decides how: a registry mounts a layer it
// already has in another repository, streams one from another registry,
// PUTs manifests by digest; an OCI image layout would copy a blob into its
// blobs/ once and update index.json.
//
// The split follows go-containerregistry's: remote and layout are two
// packages that read and write the same v1 values, and ko's
// publish.Interface, behind which a registry, a tarball, a daemon or a
// layout take the same image. Here the values are smaller than v1.Image,
// because a rebase never holds a whole image: it reads manifests and
// configs by digest, and it moves layers it never reads (a mount names
// them). So the interfaces speak in references, descriptors and bytes.
//
// Implementations:
//
//   - package registry: the distribution API over HTTP (a *registry.Client
//     is both a Source and a Destination).
//   - package layout: OCI image layouts, named in skopeo's oci: syntax (a
//     *layout.Store is both too); package rebase sends each reference to
//     the store it names.
//
// What every implementation owes the engine:
//
//   - Everything it returns was verified against the digest it was asked
//     for (by digest), or is returned with the digest of the bytes
//     themselves (by tag): a digest the engine records or pushes always
//     names the bytes it read.
//   - Absence is an error that the registry package's IsNotFound reports
//     (a registry's 404, or the equivalent error codes); the engine tells
//     "not there" from "could not ask".
//   - Retries, if any, are its own: the engine calls each method once.
//   - It is safe for concurrent use.
package store
