// Package layout is the engine's OCI image layout store: the place where an
// air-gapped site keeps its images (skopeo copy, oras, crane pull
// --format=oci write them), read and written like a registry, with no
// network.
//
// References are spelled as skopeo's oci: transport spells them (Parse):
// oci:DIR:NAME names the index.json entry whose
// org.opencontainers.image.ref.name is NAME, oci:DIR@sha256:HEX a manifest
// by digest, and oci:DIR:NAME@sha256:HEX both (read by digest, NAME is what
// a tag move moves).
//
// A Store is a store.Source and a store.Destination for the layouts of one
// run. The engine plans with go-containerregistry names, so each layout
// directory is given a name of its own on a host that cannot exist
// (oci-layout-N.invalid, RFC 2606) and each ref.name a tag
// (Store.Reference); the Store turns them back into files and ref.names
// (Store.Spell), and never hands a layout name to anything that speaks
// HTTP.
//
// What it owes the engine (package store's contract), and how:
//
//   - Everything read is verified: every manifest and blob is digested as
//     read and refused when it is not the digest asked for (a
//     DigestMismatchError naming the file), and a manifest found by
//     ref.name is also held to the size its index.json descriptor gives.
//   - Blobs are written once: a blob already in blobs/ is not written again
//     (a "mount" or a layer copy is a no-op then), and a new one is written
//     to a temporary file beside it, verified, then renamed into place, so
//     a blob file always holds its digest's bytes.
//   - index.json is replaced atomically (a temporary file, then a rename,
//     pkg/atomicfile): a crash leaves the layout as it was or complete.
//     Blobs are written before the index.json that names them. Writers of
//     one Store are serialized per layout; two processes writing one
//     layout at once are not (nor are they for skopeo).
//   - A manifest written by digest gets an index.json entry without a
//     ref.name, as a registry keeps a manifest pushed by digest, so that
//     oci:DIR@sha256:HEX stays readable and a layout GC keeps it; a tag move
//     points the entry of that ref.name at the new manifest and drops the
//     untagged entry of the same digest.
//   - There are no cross-store mounts: a layer comes from the same layout
//     (present already: nothing to do) or from another layout of the run
//     (copied, verified). A layer from a registry is refused.
//
// go-containerregistry's pkg/v1/layout reads and writes the same format,
// and the tests read what this package writes with it; the writes are not
// taken from it because its WriteBlob writes a blob in place under its
// final name without checking its digest, and its descriptor edits
// rewrite index.json in place (os.WriteFile): a crash there leaves a
// truncated index.json, or a blob file that is not its digest.
package layout
