package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/urfave/cli/v2"
)

// The flags of the keys a rebase trusts.
var (
	verifyBaseKeyFlag  = &cli.StringSliceFlag{Name: "verify-base-key", Usage: "rebase only onto a new base (and count as up to date only images on a base) that carries a cosign signature verifying with the public key `PUB` (cosign.pub); repeat for more keys, any one of them will do"}
	verifyImageKeyFlag = &cli.StringSliceFlag{Name: "verify-image-key", Usage: "rebase (and sign) only images that carry a cosign signature verifying with the public key `PUB`; repeat for more keys, any one of them will do"}
)

// The flags of the keyless identities a rebase trusts, and the trusted root
// their certificates and Rekor entries are verified against.
var (
	verifyBaseIdentityFlag        = &cli.StringFlag{Name: "verify-base-identity", Usage: "rebase only onto a new base that carries a keyless cosign signature (Fulcio certificate, Rekor entry) whose certificate names `SAN` (an e-mail or a workflow URI, as cosign verify --certificate-identity); needs --verify-base-issuer and --trusted-root"}
	verifyBaseIdentityRegexpFlag  = &cli.StringFlag{Name: "verify-base-identity-regexp", Usage: "--verify-base-identity, the SAN matching `REGEXP` (Go syntax, as cosign's --certificate-identity-regexp)"}
	verifyBaseIssuerFlag          = &cli.StringFlag{Name: "verify-base-issuer", Usage: "the OIDC issuer `URL` --verify-base-identity's certificate must name (as cosign verify --certificate-oidc-issuer), e.g. https://token.actions.githubusercontent.com"}
	verifyImageIdentityFlag       = &cli.StringFlag{Name: "verify-image-identity", Usage: "rebase (and sign) only images that carry a keyless cosign signature whose certificate names `SAN`; needs --verify-image-issuer and --trusted-root"}
	verifyImageIdentityRegexpFlag = &cli.StringFlag{Name: "verify-image-identity-regexp", Usage: "--verify-image-identity, the SAN matching `REGEXP`"}
	verifyImageIssuerFlag         = &cli.StringFlag{Name: "verify-image-issuer", Usage: "the OIDC issuer `URL` --verify-image-identity's certificate must name"}
	trustedRootFlag               = &cli.StringFlag{Name: "trusted-root", Usage: "the Sigstore trusted root `FILE` (trusted_root.json: Fulcio CAs, Rekor logs) keyless signatures are verified against, offline"}
)

// trustOptions loads --verify-base-key, --verify-image-key and the keyless
// flags before any line is read: a key that cannot be read, a private key,
// a trusted root that does not parse or an identity half given stops the
// run (exit 2).
func trustOptions(c *cli.Context) ([]rebase.Option, error) {
	keyless, err := keylessVerifiers(c)
	if err != nil {
		return nil, err
	}
	var opts []rebase.Option
	for _, f := range []struct {
		flag, side string
		opt        func(rebase.Verifier) rebase.Option
	}{{"verify-base-key", "base", rebase.WithBaseVerifier}, {"verify-image-key", "image", rebase.WithImageVerifier}} {
		if k := keyless[f.side]; k != nil {
			if c.IsSet(f.flag) {
				return nil, cli.Exit(fmt.Sprintf("--%s and --verify-%s-identity: give one (a key, or a keyless identity)", f.flag, f.side), exitUsage)
			}
			opts = append(opts, f.opt(k))
			continue
		}
		var keys provenance.KeyVerifier
		for _, path := range c.StringSlice(f.flag) {
			k, err := provenance.LoadPublicKey(path)
			switch {
			case errors.Is(err, provenance.ErrPrivateKey):
				return nil, cli.Exit(fmt.Sprintf("--%s %s: %v: give the public key (cosign public-key --key %s writes it)", f.flag, path, err, path), exitUsage)
			case err != nil:
				return nil, cli.Exit(fmt.Sprintf("--%s %s: %v", f.flag, path, err), exitUsage)
			}
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			opts = append(opts, f.opt(keys))
		}
	}
	return opts, nil
}

// keylessVerifiers are the keyless verifiers of the base ("base") and of
// the input ("image") the flags ask for.
func keylessVerifiers(c *cli.Context) (map[string]*provenance.KeylessVerifier, error) {
	usage := func(format string, a ...any) error { return cli.Exit(fmt.Sprintf(format, a...), exitUsage) }
	var sides []string
	for _, side := range []string{"base", "image"} {
		id, re, iss := "verify-"+side+"-identity", "verify-"+side+"-identity-regexp", "verify-"+side+"-issuer"
		switch {
		case c.IsSet(id) && c.IsSet(re):
			return nil, usage("--%s and --%s: give one", id, re)
		case (c.IsSet(id) || c.IsSet(re)) && !c.IsSet(iss):
			return nil, usage("--%s needs --%s: the OIDC issuer its certificate names (cosign verify --certificate-oidc-issuer), e.g. https://token.actions.githubusercontent.com", what(c, id, re), iss)
		case c.IsSet(iss) && !c.IsSet(id) && !c.IsSet(re):
			return nil, usage("--%s needs --%s (or --%s)", iss, id, re)
		case c.IsSet(iss) && !c.IsSet("trusted-root"):
			return nil, usage("--%s needs --trusted-root FILE: the Sigstore trusted root (trusted_root.json) its certificate and Rekor entry are verified against", what(c, id, re))
		case c.IsSet(iss):
			sides = append(sides, side)
		}
	}
	path := c.String("trusted-root")
	if len(sides) == 0 {
		if c.IsSet("trusted-root") {
			return nil, usage("--trusted-root is read only with --verify-base-identity or --verify-image-identity")
		}
		return nil, nil
	}
	tr, err := provenance.LoadTrustedRoot(path)
	switch {
	case errors.Is(err, provenance.ErrNotTrustedRoot):
		return nil, usage("--trusted-root %s: %v: give a trusted_root.json, as Sigstore's TUF repository serves it or cosign trusted-root create writes it", path, err)
	case err != nil:
		return nil, usage("--trusted-root %s: %v", path, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 || len(tr.RekorLogs()) == 0 {
		return nil, usage("--trusted-root %s: not a Sigstore trusted root for keyless signatures: it needs a Fulcio certificate authority and a Rekor log (%d and %d)", path, len(tr.FulcioCertificateAuthorities()), len(tr.RekorLogs()))
	}
	out := map[string]*provenance.KeylessVerifier{}
	for _, side := range sides {
		id, re := "verify-"+side+"-identity", "verify-"+side+"-identity-regexp"
		k, err := provenance.NewKeylessVerifier(tr, c.String(id), c.String(re), c.String("verify-"+side+"-issuer"))
		if err != nil {
			return nil, usage("--%s: %v", what(c, id, re), err)
		}
		out[side] = k
	}
	return out, nil
}

// what is the flag of the two given.
func what(c *cli.Context, id, re string) string {
	if c.IsSet(re) {
		return re
	}
	return id
}

// verifiedMessage says, with -v, which signatures were verified before the
// rebase and by which key.
func verifiedMessage(b *strings.Builder, r rebase.Result, verbose bool) {
	if !verbose {
		return
	}
	for _, v := range r.Verified {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		by := "key"
		if !strings.HasPrefix(v.By, "sha256:") {
			by = "identity" // a keyless signature's SAN and issuer
		}
		fmt.Fprintf(b, "%s: verified %s %s: signature %s, %s %s", r.Input, v.Role, v.Subject, v.Signature, by, v.By)
	}
}
