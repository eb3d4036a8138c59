package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/urfave/cli/v2"
)

// passwordEnv is where the password of a cosign key file comes from, as
// cosign reads it. There is no prompt: stdin is the list of images.
const passwordEnv = "COSIGN_PASSWORD"

// signOptions loads --sign-key, before any line is read: a key that cannot
// be read or decrypted stops the run (exit 2) with nothing pushed.
func signOptions(c *cli.Context) ([]rebase.Option, error) {
	path := c.String("sign-key")
	if path == "" {
		return nil, nil
	}
	sv, err := provenance.LoadKey(path, []byte(os.Getenv(passwordEnv)))
	switch {
	case errors.Is(err, provenance.ErrWrongPassword) && os.Getenv(passwordEnv) == "":
		return nil, cli.Exit(fmt.Sprintf("--sign-key %s: %v: set %s to the key's password", path, err, passwordEnv), exitUsage)
	case errors.Is(err, provenance.ErrWrongPassword):
		return nil, cli.Exit(fmt.Sprintf("--sign-key %s: %v: %s holds another password", path, err, passwordEnv), exitUsage)
	case err != nil:
		return nil, cli.Exit(fmt.Sprintf("--sign-key %s: %v", path, err), exitUsage)
	}
	return []rebase.Option{rebase.WithSigner(provenance.NewSigner(sv, version()))}, nil
}

// signedMessage says what was signed (verbose) or, with --dry-run, what
// would be: every manifest gets a signature and an attestation.
func signedMessage(b *strings.Builder, r rebase.Result, verbose bool) {
	if len(r.Signed) == 0 || !r.DryRun && !verbose {
		return
	}
	verb := "signed"
	if r.DryRun {
		verb = "would sign"
	}
	for _, s := range r.Signed {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if s.Digest != "" {
			fmt.Fprintf(b, "%s: %s %s: %s %s", r.Input, verb, s.Of, s.Kind, s.Tag+"@"+s.Digest)
		} else {
			fmt.Fprintf(b, "%s: %s %s: %s %s", r.Input, verb, s.Of, s.Kind, s.Tag)
		}
	}
}
