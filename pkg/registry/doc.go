// Package registry is the engine's registry client: everything a rebase
// says to a registry goes through it, and no other package of the engine
// speaks HTTP.
//
// One Client serves a whole run. Under every request it keeps, top to
// bottom (NewTransport): one ping per registry and scheme (ping.go), plain
// HTTP refused beyond loopback unless insecure, every manifest digested as
// received and refused when its bytes are not the digest asked for or the
// one the registry names (DigestMismatchError), and at most MaxRequests in
// flight per registry host. Above it, go-containerregistry's
// authenticating transports: one puller for the reads (manifests, configs,
// tag listings, layers read lazily, each layer's size held to its
// descriptor's: BlobSizeError), and one writer per repository and mount
// source (push.go) that speaks the distribution API directly: a
// cross-repository mount per layer (one POST), a layer of a base on another
// registry streamed once per target registry and mounted from there
// (crossreg.go), monolithic uploads (a config or a signature in the one
// POST the distribution spec allows, where the registry takes it),
// manifests by digest, a tag moved with a check of what it names, the OCI
// referrers API. Every operation is retried as a whole under one policy
// (internal/retry). Under it all, the requests each host answered are
// counted by method and kind (Client.Requests, count.go): what a
// registry's rate limit counts.
//
// A *Client is both a store.Source and a store.Destination: package rebase
// plans against those interfaces and imports no net/http.
//
// Errors are worded for people (Describe): what was asked, then what the
// registry said, without request URLs; IsNotFound tells "not there" from
// "could not ask".
package registry
