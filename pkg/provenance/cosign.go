package provenance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Cosign's media types and annotations (cosign pkg/types, pkg/oci/static).
const (
	SimpleSigningMediaType  types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType           types.MediaType = "application/vnd.dsse.envelope.v1+json"
	InTotoPayloadType                       = "application/vnd.in-toto+json"
	SignatureAnnotation                     = "dev.cosignproject.cosign/signature"
	PredicateTypeAnnotation                 = "predicateType"
)

// SimpleSigning is cosign's signature payload for digest: its repository as
// the docker-reference, the digest, no optional fields (what cosign sign
// makes without -a).
func SimpleSigning(digest name.Digest) ([]byte, error) {
	return payload.Cosign{Image: digest}.MarshalJSON()
}

// SignSimple signs the simple-signing payload of digest and returns the
// payload and the base64 signature cosign puts in its annotation.
func SignSimple(ctx context.Context, sv signature.Signer, digest name.Digest) ([]byte, string, error) {
	p, err := SimpleSigning(digest)
	if err != nil {
		return nil, "", err
	}
	sig, err := sv.SignMessage(bytes.NewReader(p), sigopts.WithContext(ctx))
	if err != nil {
		return nil, "", err
	}
	return p, base64.StdEncoding.EncodeToString(sig), nil
}

// SignDSSE wraps an in-toto statement in a DSSE envelope signed by sv, as
// cosign attest does.
func SignDSSE(ctx context.Context, sv signature.Signer, statement []byte) ([]byte, error) {
	return dsse.WrapSigner(sv, InTotoPayloadType).SignMessage(bytes.NewReader(statement), sigopts.WithContext(ctx))
}

// emptySignatures is the image cosign starts a .sig or .att tag from: an
// empty OCI image.
func emptySignatures() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// SignatureImage is the image at a sha256-<hex>.sig tag: now (what the tag
// names, nil for nothing) with one more layer, the payload, annotated with
// its signature, as cosign sign appends.
func SignatureImage(now v1.Image, payload []byte, b64sig string) (v1.Image, error) {
	return appendLayer(now, static.NewLayer(payload, SimpleSigningMediaType), map[string]string{SignatureAnnotation: b64sig})
}

// AttestationImage is the image at a sha256-<hex>.att tag: now with one more
// layer, the DSSE envelope, annotated with its predicate type, as cosign
// attest appends (the signature annotation is empty: the envelope holds it).
func AttestationImage(now v1.Image, envelope []byte, predicateType string) (v1.Image, error) {
	return appendLayer(now, static.NewLayer(envelope, DSSEMediaType), map[string]string{PredicateTypeAnnotation: predicateType, SignatureAnnotation: ""})
}

func appendLayer(now v1.Image, l v1.Layer, ann map[string]string) (v1.Image, error) {
	if now == nil {
		now = emptySignatures()
	}
	return mutate.Append(now, mutate.Addendum{Layer: l, Annotations: ann})
}

// compact rewrites JSON without insignificant space, keeping its order.
func compact(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
