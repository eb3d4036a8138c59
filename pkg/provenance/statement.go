package provenance

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// BuildType is the build type of the provenance of a rebase; the README
// ("Signing and provenance") documents its fields.
const BuildType = "https://github.com/rebasekit/rebasekit/buildtypes/rebase/v1"

// PredicateType is SLSA provenance v1's (cosign's --type slsaprovenance1).
const PredicateType = "https://slsa.dev/provenance/v1"

// BuilderID names the builder of a rebase: crane-rebase-stream.
const BuilderID = "https://github.com/rebasekit/rebasekit/cmd/crane-rebase-stream"

// Rebase is what a rebase did to one image, for its provenance.
type Rebase struct {
	Input string      // the reference as given
	Image name.Digest // the image rebased (the input's digest)
	Base  string      // the base's name (base.name), as resolved
	// OldBaseIndex and NewBaseIndex are the digests of the base as the
	// image recorded it and as its name resolves now ("" when unknown).
	OldBaseIndex, NewBaseIndex string
	Platforms                  []Platform
	Version                    string // the builder's version
	// Verified are the signatures verified before the rebase: the new
	// base's and the input's (rebase.WithBaseVerifier, WithImageVerifier).
	Verified []Verified
}

// Verified is a signature verified before a rebase: of what (role: base or
// image; subject: repo@digest), where (the signature image, tag@digest)
// and by whom (the key's fingerprint).
type Verified struct{ Role, Subject, Signature, By string }

// Platform is the rebase of one platform manifest.
type Platform struct {
	Platform                 string // os/arch[/variant]
	OldManifest, NewManifest string // digests of its manifest before and after
	OldBase, NewBase         Base   // the bases' manifests for this platform
	KeptLayers               []string
	// What the image said about its own build: the created_by lines of its
	// own history (ko's "ko build ko://..."), and the
	// org.opencontainers.image.source and .revision it carries.
	CreatedBy        []string
	Source, Revision string
}

// Base is a base image's platform manifest: the base's name and the
// manifest's digest.
type Base struct{ Name, Digest string }

// Statement is the in-toto statement (v1) of a rebase whose subject is
// subject (the rebased index, or one rebased platform manifest), with a
// SLSA provenance v1 predicate of build type BuildType, as JSON.
func Statement(subject name.Digest, r Rebase) ([]byte, error) {
	pred, err := predicate(r)
	if err != nil {
		return nil, err
	}
	ps, err := toStruct(pred)
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: subject.Context().Name(), Digest: digestMap(subject.DigestStr())}},
		PredicateType: PredicateType,
		Predicate:     ps,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(st)
	if err != nil {
		return nil, err
	}
	return compact(b)
}

func predicate(r Rebase) (*slsa.Provenance, error) {
	repo := r.Image.Context().Name()
	var platforms []any
	deps := []*intoto.ResourceDescriptor{dep(repo, r.Image.DigestStr(), "image", "")}
	if r.OldBaseIndex != "" {
		deps = append(deps, dep(baseRepo(r.Base), r.OldBaseIndex, "old-base", ""))
	}
	if r.NewBaseIndex != "" && r.NewBaseIndex != r.OldBaseIndex {
		deps = append(deps, dep(baseRepo(r.Base), r.NewBaseIndex, "new-base", ""))
	}
	for _, p := range r.Platforms {
		if p.OldManifest != r.Image.DigestStr() {
			deps = append(deps, dep(repo, p.OldManifest, "image", p.Platform))
		}
		deps = append(deps, dep(baseRepo(p.OldBase.Name), p.OldBase.Digest, "old-base", p.Platform),
			dep(baseRepo(p.NewBase.Name), p.NewBase.Digest, "new-base", p.Platform))
		pl := map[string]any{
			"platform":    p.Platform,
			"oldManifest": p.OldManifest,
			"newManifest": p.NewManifest,
			"oldBase":     map[string]any{"name": p.OldBase.Name, "digest": p.OldBase.Digest},
			"newBase":     map[string]any{"name": p.NewBase.Name, "digest": p.NewBase.Digest},
			"keptLayers":  strs(p.KeptLayers),
		}
		if len(p.CreatedBy) > 0 {
			pl["createdBy"] = strs(p.CreatedBy)
		}
		if p.Source != "" {
			pl["source"] = p.Source
		}
		if p.Revision != "" {
			pl["revision"] = p.Revision
		}
		platforms = append(platforms, pl)
	}
	ext := map[string]any{"image": r.Input, "base": r.Base}
	internal := map[string]any{"digest": r.Image.DigestStr(), "platforms": platforms}
	if r.OldBaseIndex != "" {
		internal["oldBaseIndex"] = r.OldBaseIndex
	}
	if r.NewBaseIndex != "" {
		internal["newBaseIndex"] = r.NewBaseIndex
	}
	if vs := verifiedList(r.Verified); vs != nil {
		internal["verified"] = vs
	}
	es, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, err
	}
	is, err := structpb.NewStruct(internal)
	if err != nil {
		return nil, err
	}
	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   es,
			InternalParameters:   is,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: BuilderID, Version: map[string]string{"crane-rebase-stream": r.Version}},
		},
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return p, nil
}

// dep is a resolved dependency: an image manifest, by repository and
// digest, annotated with its role (image, old-base, new-base) and, for a
// platform manifest, its platform.
func dep(repo, digest, role, platform string) *intoto.ResourceDescriptor {
	ann := map[string]any{"role": role}
	if platform != "" {
		ann["platform"] = platform
	}
	a, _ := structpb.NewStruct(ann)
	return &intoto.ResourceDescriptor{Name: repo, Digest: digestMap(digest), Annotations: a}
}

// baseRepo is the repository of a base's name (a tag or a repository).
func baseRepo(s string) string {
	if ref, err := name.ParseReference(s); err == nil {
		return ref.Context().Name()
	}
	return s
}

func digestMap(d string) map[string]string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return map[string]string{"sha256": d}
	}
	return map[string]string{alg: hex}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// toStruct turns the predicate into the statement's Struct.
func toStruct(p *slsa.Provenance) (*structpb.Struct, error) {
	b, err := protojson.Marshal(p)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protojson.Unmarshal(b, s)
}
