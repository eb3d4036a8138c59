package packages

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ParseSPDX reads the packages of an SPDX JSON document: packages[].name
// and versionInfo. What describes the image rather than what is installed
// in it is not one of its packages: the document's described elements
// (documentDescribes, or DESCRIBES relationships of the document), a
// package whose primaryPackagePurpose is CONTAINER, and one whose purl is
// pkg:oci (apko's image and layer packages, named sha256:...; without this
// every base move would list them as changed).
func ParseSPDX(b []byte) ([]Package, error) {
	var doc struct {
		SPDXVersion string   `json:"spdxVersion"`
		SPDXID      string   `json:"SPDXID"`
		Describes   []string `json:"documentDescribes"`
		Packages    []struct {
			ID           string `json:"SPDXID"`
			Name         string `json:"name"`
			Version      string `json:"versionInfo"`
			Purpose      string `json:"primaryPackagePurpose"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct {
			Element string `json:"spdxElementId"`
			Type    string `json:"relationshipType"`
			Related string `json:"relatedSpdxElement"`
		} `json:"relationships"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("SPDX JSON: %w", err)
	}
	if doc.SPDXVersion == "" {
		return nil, errors.New("SPDX JSON: no spdxVersion: not an SPDX document")
	}
	described := map[string]bool{}
	for _, id := range doc.Describes {
		described[id] = true
	}
	docID := doc.SPDXID
	if docID == "" {
		docID = "SPDXRef-DOCUMENT"
	}
	for _, r := range doc.Relationships {
		switch {
		case r.Element == docID && r.Type == "DESCRIBES":
			described[r.Related] = true
		case r.Related == docID && r.Type == "DESCRIBED_BY":
			described[r.Element] = true
		}
	}
	var ps []Package
	for _, p := range doc.Packages {
		if p.Name == "" || p.Purpose == "CONTAINER" || (p.ID != "" && described[p.ID]) {
			continue
		}
		oci, arch := false, ""
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				oci = oci || isOCIPurl(r.Locator)
				arch = purlArch(r.Locator)
			}
		}
		if oci {
			continue
		}
		ps = append(ps, Package{Name: p.Name, Version: p.Version, Arch: arch})
	}
	return sortPackages(ps), nil
}

// isOCIPurl reports whether a purl names an OCI artifact (an image or one
// of its layers), not a package.
func isOCIPurl(purl string) bool { return strings.HasPrefix(purl, "pkg:oci/") }

// purlArch is a purl's arch qualifier ("pkg:deb/debian/libc6@2.36-9?arch=amd64"
// is amd64), or "".
func purlArch(purl string) string {
	_, q, ok := strings.Cut(purl, "?")
	if !ok {
		return ""
	}
	q, _, _ = strings.Cut(q, "#")
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	return v.Get("arch")
}

type cdxComponent struct {
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	Type       string         `json:"type"`
	Purl       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
}

// ParseCycloneDX reads the packages of a CycloneDX JSON document:
// components[].name and version, nested components included. The image
// (metadata.component, not read; a component of type container or with a
// pkg:oci purl) and files are not packages.
func ParseCycloneDX(b []byte) ([]Package, error) {
	var doc struct {
		BOMFormat  string         `json:"bomFormat"`
		Components []cdxComponent `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("CycloneDX JSON: %w", err)
	}
	if doc.BOMFormat != "CycloneDX" {
		return nil, errors.New(`CycloneDX JSON: bomFormat is not "CycloneDX"`)
	}
	var ps []Package
	var walk func([]cdxComponent, int)
	walk = func(cs []cdxComponent, depth int) {
		if depth > 32 {
			return
		}
		for _, c := range cs {
			if c.Name != "" && c.Type != "container" && c.Type != "file" && !isOCIPurl(c.Purl) {
				ps = append(ps, Package{Name: c.Name, Version: c.Version, Arch: purlArch(c.Purl)})
			}
			walk(c.Components, depth+1)
		}
	}
	walk(doc.Components, 0)
	return sortPackages(ps), nil
}

// ParseSBOM reads an SPDX or a CycloneDX JSON document, whichever b is.
func ParseSBOM(b []byte) (List, error) {
	var probe struct {
		SPDXVersion string `json:"spdxVersion"`
		BOMFormat   string `json:"bomFormat"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return List{}, fmt.Errorf("SBOM: %w", err)
	}
	switch {
	case probe.SPDXVersion != "":
		ps, err := ParseSPDX(b)
		return List{Source: SPDX, Packages: ps}, err
	case probe.BOMFormat == "CycloneDX":
		ps, err := ParseCycloneDX(b)
		return List{Source: CycloneDX, Packages: ps}, err
	}
	return List{}, errors.New("SBOM: neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON")
}

// IsSBOMPredicate reports whether an in-toto predicate type is an SBOM's:
// cosign attest --type spdxjson / cyclonedx write these.
func IsSBOMPredicate(t string) bool {
	return strings.HasPrefix(t, "https://spdx.dev/Document") || strings.HasPrefix(t, "https://cyclonedx.org/bom")
}

// ParseAttestation reads the SBOM in a cosign attestation: a DSSE envelope
// whose payload is an in-toto statement whose predicate is the SBOM. It
// returns ok false, and no error, for a statement whose predicate is not an
// SBOM (a provenance, a vulnerability scan). The envelope's signatures are
// not checked: the list is for people to read, not a trust decision.
func ParseAttestation(envelope []byte) (l List, ok bool, err error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return List{}, false, fmt.Errorf("DSSE envelope: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		if payload, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(env.Payload, "=")); err != nil {
			return List{}, false, fmt.Errorf("DSSE envelope: its payload is not base64: %w", err)
		}
	}
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return List{}, false, fmt.Errorf("in-toto statement: %w", err)
	}
	if !IsSBOMPredicate(st.PredicateType) {
		return List{}, false, nil
	}
	pred := []byte(st.Predicate)
	var s string
	if json.Unmarshal(pred, &s) == nil { // a predicate given as a JSON string
		pred = []byte(s)
	}
	l, err = ParseSBOM(pred)
	if err != nil {
		return List{}, false, fmt.Errorf("the attestation's %s predicate: %w", st.PredicateType, err)
	}
	return l, true, nil
}
