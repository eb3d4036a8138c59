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

// trustOptions loads --verify-base-key and --verify-image-key before any
// line is read: a key that cannot be read, or a private key, stops the run
// (exit 2).
func trustOptions(c *cli.Context) ([]rebase.Option, error) {
	var opts []rebase.Option
	for _, f := range []struct {
		flag string
		opt  func(rebase.Verifier) rebase.Option
	}{{"verify-base-key", rebase.WithBaseVerifier}, {"verify-image-key", rebase.WithImageVerifier}} {
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
		fmt.Fprintf(b, "%s: verified %s %s: signature %s, key %s", r.Input, v.Role, v.Subject, v.Signature, v.By)
	}
}
