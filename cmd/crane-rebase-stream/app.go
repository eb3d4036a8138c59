package main

import (
	"fmt"
	"log"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rebasekit/rebasekit/internal/cmdline"
	"github.com/rebasekit/rebasekit/pkg/layout"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/urfave/cli/v2"
)

// app is the command: its help, its flags, and run.
func app(intr *interrupt) *cli.App {
	return &cli.App{
		Name:                 "crane-rebase-stream",
		Usage:                "rebase the images named on stdin onto their base's current version, one reference a line",
		UsageText:            "crane-rebase-stream [flags] [FILE|-]",
		ArgsUsage:            "[FILE|-]", // the man page's SYNOPSIS
		Description:          description,
		HideVersion:          true,
		ExitErrHandler:       func(*cli.Context, error) {}, // runMain turns errors into exit statuses
		HideHelpCommand:      true,
		OnUsageError:         cmdline.UsageError,
		Flags:                flags(),
		EnableBashCompletion: true,
		Action:               func(c *cli.Context) error { return run(intr, c) },
	}
}

// flags are the command's flags.
func flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 8, Usage: "rebase up to `N` images at once"},
		&cli.BoolFlag{Name: "dry-run", Usage: "compute and print the rebased digests, push nothing"},
		&cli.BoolFlag{Name: "strict", Usage: "treat skipped images and skipped platforms of an index (no base annotations, pinned base) as failures"},
		&cli.StringFlag{Name: "old-base", Usage: "the base the images were built on (`REF`, or oci:DIR:NAME in an OCI layout), overriding their annotations; needs --new-base"},
		&cli.StringFlag{Name: "new-base", Usage: "the base to move them to (`REF`), overriding their annotations; needs --old-base. The results record it as their base.name (not a layout's oci:DIR:NAME: they keep the base.name they had)"},
		&cli.BoolFlag{Name: "keep-config", Usage: "keep each image's config (User, Env, Labels, Entrypoint...) exactly as it is, as crane rebase does", DefaultText: "what the image inherited from the old base follows the new base"},
		&cli.BoolFlag{Name: "tag", Usage: "also move the input's tag to the rebased image, while it still names the image rebased", DefaultText: "push by digest only"},
		&cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP to any registry", DefaultText: "loopback only"},
		&cli.StringFlag{Name: "report", Usage: "write a JSON report to `FILE`: per image input, output, action, per-platform old/new base, error; the requests each registry answered, by method and kind"},
		&cli.StringFlag{Name: "summary", Usage: "write a Markdown summary for reviewers to `FILE` at the end: per base that moved, its old and new digests, the packages that changed (from its SBOM or package database, read once per base), the images rebased onto it; the lines that failed; the counts. --report then lists the bases and their package changes too"},
		&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "give up on an image after `DURATION`, retries included; 0 for no limit"},
		&cli.IntFlag{Name: "max-requests", Value: rebase.DefaultMaxRequests, Usage: "have at most `N` requests in flight to each registry host, for the whole run"},
		&cli.DurationFlag{Name: "max-retry-wait", Value: rebase.DefaultMaxRetryWait, Usage: "wait as a registry asks (Retry-After on a 429 or 503, a pull budget's window) up to `DURATION`; a longer wait fails the line instead"},
		&cli.BoolFlag{Name: "pairs", Usage: "print \"OLD NEW\" for each reference (\"OLD OLD\" when not rebased), the form ko-rewrite --images takes and several runs' outputs concatenate into"},
		&cli.StringFlag{Name: "shard", Usage: "take only shard `I/N` of the distinct references (I from 0, as $JOB_COMPLETION_INDEX), the same ones whatever the input order; prints pairs (--pairs) for those alone"},
		&cli.BoolFlag{Name: "no-referrers", Usage: "do not look for signatures/attestations on the old digests of rebased images"},
		&cli.StringFlag{Name: "sign-key", Usage: "sign every rebased image (index and platform manifests) and attest its rebase (SLSA provenance v1), in cosign's format, with the cosign key pair's private key `KEY` (password from $COSIGN_PASSWORD) or a PEM PKCS#8 ECDSA P-256 key"},
		verifyBaseKeyFlag, verifyImageKeyFlag, // trust.go
		verifyBaseIdentityFlag, verifyBaseIdentityRegexpFlag, verifyBaseIssuerFlag, // trust.go
		verifyImageIdentityFlag, verifyImageIdentityRegexpFlag, verifyImageIssuerFlag, trustedRootFlag,
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say what happens to every image, and before the summary the requests each registry answered"},
		cmdline.VersionFlag(),
	}, cmdline.DocFlags()...)
}

// description is the body of --help.
const description = `Reads image references, one a line, from FILE or stdin, and writes exactly one
line for each to stdout, in input order, as soon as that line and all before it
are done. Up to --jobs images are rebased at once.

Each image (single- or multi-platform, Docker or OCI) is moved onto the current
version of the base it was built on, found from the annotations ko writes:
org.opencontainers.image.base.name (the base tag, resolved once per run) and
org.opencontainers.image.base.digest (the base it was built on). Every platform
is rebased onto the new base's image for that same platform: the base's layers,
diff_ids and history are swapped, the base.digest annotation updated, and every
other byte of the manifest and config kept but the config's own settings, which
follow the base as a rebuild on it would: a value the image inherited unchanged
from the old base (User, WorkingDir, each Env variable, label, exposed port and
volume, StopSignal, Shell, Healthcheck; Entrypoint and Cmd when the image set
no Entrypoint) takes the new base's; a value the image set itself is kept, with
a warning when the new base changed it too (a PATH both changed). -v lists
every field changed, --report too. --keep-config keeps the config as it is.
The result is pushed by digest into the image's own repository only.

OUTPUT
   repo@sha256:OLD          ->  repo@sha256:NEW
   repo:tag@sha256:OLD      ->  repo:tag@sha256:NEW
   repo:tag                 ->  repo:tag@sha256:NEW
   An image already on its current base, skipped or failed is echoed byte for
   byte, so the output is always safe to apply. Blank and # lines are echoed.
   Rebasing the output again changes nothing.
   --pairs prints "OLD NEW" per reference instead ("OLD OLD" when not rebased),
   for ko-rewrite --images; --shard I/N takes only shard I's references (a
   stable hash of each) and prints their pairs alone, so N runs' outputs
   concatenate into one replacement stream.

EXAMPLES
   # The pipeline: rebase every image of a release and rewrite the YAML.
   ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml

   # Preview: compute the digests a rebase would push, push nothing.
   ko-extract -f release.yaml | crane-rebase-stream --dry-run - | ko-rewrite -f release.yaml --images - | diff release.yaml -

   # One image, with a JSON report of what happened per platform.
   echo ghcr.io/me/app:v1 | crane-rebase-stream --report report.json

   # For the reviewer of the change: which bases moved, which of their
   # packages changed (from an attached SBOM, else the apk/dpkg database in
   # the base's layers, read once per base), which images moved onto them.
   ko-extract -f release.yaml | crane-rebase-stream --summary rebase.md - | ko-rewrite -f release.yaml --images - --summary rewrite.md > rebased.yaml

   # Images built without base annotations (crane rebase's flags), moved from
   # distroless/static to its nonroot variant: an image that inherited User 0
   # (root) from the old base runs as nonroot's 65532 (with --keep-config it
   # stays User 0, running as root on nonroot's files).
   crane-rebase-stream -v --old-base gcr.io/distroless/static@sha256:... --new-base gcr.io/distroless/static:nonroot images.txt

STDERR
   REF: skipped: REASON      not rebased, not an error (no base annotations, base pinned by digest)
   REF: error: REASON        failed; the line was echoed unchanged
   REF: warning: MESSAGE     e.g. a dropped attestation child, signatures left on the old digest
   rebased N, up to date N, skipped N, failed N      the summary, always last

EXIT STATUS
   0 every line was rebased, up to date, skipped or blank; 1 a line failed (with
   --strict, skips count as failures); 2 bad usage or unreadable input/output;
   130 (SIGINT) or 143 (SIGTERM) interrupted: no new line is taken, the images
   in flight get 10s to finish (a second signal abandons them), and every line
   read so far is answered, unfinished ones echoed. When the reader of stdout
   is gone (Ctrl-C on the pipeline ends ko-rewrite too), nobody can take an
   answer: the images in flight are abandoned at once (what was pushed is
   named by nothing), the summary is still printed, and the status is 130
   after SIGINT, 143 after SIGTERM, else 141 (as for SIGPIPE).

REGISTRIES
   Credentials come, as for ko and in ko's order, from Amazon ECR's helper
   (AWS environment), the docker config (docker login, credential helpers;
   $DOCKER_CONFIG), Google (gcloud, application default credentials), GitHub
   ($GITHUB_TOKEN for ghcr.io) and Azure ACR (AZURE_* environment); never from
   flags, and never printed, not even with -v.
   TLS is verified; plain HTTP is used only for localhost/loopback registries,
   or with --insecure. 5xx/429 answers and broken connections are retried with
   backoff (1s, 3s); an upload cut in the middle starts a new upload session.
   --timeout (default 10m) bounds each image, retries included. At most
   --max-requests (16) requests are in flight to one registry host at once.

RATE LIMITS
   A 429 or 503 with Retry-After (seconds or an HTTP date) is retried when
   the registry asked, and no request goes to that registry before then; a
   wait longer than --max-retry-wait (default 1m) fails the line at once,
   naming the wait asked for. The first wait is said on stderr, each with -v.
   A 429 halves the requests in flight to that registry (--max-requests is
   the most), which grow back by one a round as it answers again. A registry
   that sends Docker Hub's ratelimit-limit/ratelimit-remaining headers has
   its pulls (manifest GETs; HEADs are not pulls) paced to its window: once
   the budget is spent, pulls wait for the window to reset instead of being
   refused. Once the input has ended, a budget that cannot cover the lines
   left (times the pulls per line so far) is said once: the pulls needed,
   those left, when the window resets.

OCI LAYOUTS
   A line oci:DIR:NAME (or oci:DIR@sha256:HEX), as skopeo spells it, names an
   image in the OCI image layout DIR by its ref.name (or digest); it is
   rebased inside that layout, with no network request: its bases are
   oci:DIR:NAME too (--old-base, --new-base), or, without the flags, the
   image's base.name looked up as a ref.name of the same layout (skopeo copy
   --all docker://BASE oci:DIR:BASE puts it there). The output line is
   oci:DIR:NAME@sha256:NEW; --tag moves the ref.name. Blobs are written once,
   every blob read is checked against its digest, and index.json is replaced
   atomically: a crash leaves the layout as it was or complete.

SIGNING
   --sign-key KEY signs each rebased index and platform manifest in cosign's
   format and attests its rebase (an in-toto statement, SLSA provenance v1,
   in a DSSE envelope), pushed as cosign does: the sha256-<hex>.sig and
   sha256-<hex>.att tags of the image's repository. KEY: cosign.key from
   cosign generate-key-pair (password from $COSIGN_PASSWORD) or a PEM PKCS#8
   ECDSA P-256 key; a key that does not load stops the run before a line is
   read (exit 2). A failure to sign fails the line (echoed: the YAML stays
   on the old, signed digest). Verify with
   cosign verify --key cosign.pub --insecure-ignore-tlog=true REPO@sha256:NEW
   --verify-base-key PUB (repeatable: any key will do) rebases only onto a
   new base that carries a cosign signature (its sha256-<hex>.sig tag) of its
   digest as resolved, the index or the platform manifest used, verifying
   with PUB (cosign.pub; ECDSA, RSA or Ed25519); with --old-base/--new-base,
   the --new-base image. An up-to-date image's base is checked too.
   --verify-image-key PUB rebases (and signs) only images whose own digest
   carries a signature verifying with PUB. Anything else is refused: the line
   echoed, exit 1, nothing pushed, the reason saying what was missing (no
   signature, a signature for another digest, none a given key verifies).
   Each signature is looked up once a run; --dry-run verifies the same. -v,
   --report and the provenance name each signature verified and its key's
   fingerprint: sha256 of the DER public key (openssl pkey -pubin -in PUB
   -outform DER | sha256sum).
   Keyless signatures (cosign sign with a Fulcio certificate, logged in
   Rekor: GitHub Actions, Chainguard) are verified offline, against the
   trusted root --trusted-root FILE (trusted_root.json): --verify-base-identity
   SAN (or --verify-base-identity-regexp) with --verify-base-issuer URL, and
   --verify-image-identity/--verify-image-issuer, as cosign verify
   --certificate-identity --certificate-oidc-issuer checks them: the
   certificate chains to a Fulcio CA of the root valid when Rekor logged the
   entry, names the SAN and issuer; the signature verifies over the payload
   with its key; Rekor's signed entry timestamp verifies with a log key of
   the root and its entry is the payload's hashedrekord. SCTs are not checked.
   A side takes keys or an identity, not both; the report names the
   certificate's SAN and issuer in place of a fingerprint.`

// checkFlags refuses a bad command line before any line is read, and
// checks that the report can be written before any image is pushed.
func checkFlags(c *cli.Context) error {
	switch {
	case c.NArg() > 1:
		return cli.Exit(fmt.Sprintf("want at most one input (FILE or -), got %d; see --help", c.NArg()), exitUsage)
	case (c.String("old-base") == "") != (c.String("new-base") == ""):
		return cli.Exit("--old-base and --new-base go together", exitUsage)
	case c.Int("jobs") < 1:
		return cli.Exit("--jobs must be at least 1", exitUsage)
	case c.Int("max-requests") < 1:
		return cli.Exit("--max-requests must be at least 1", exitUsage)
	case c.Duration("timeout") < 0:
		return cli.Exit("--timeout must not be negative (0 means no limit)", exitUsage)
	case c.Duration("max-retry-wait") < 0:
		return cli.Exit("--max-retry-wait must not be negative", exitUsage)
	}
	if _, err := shardFlag(c); err != nil {
		return err
	}
	for _, f := range []string{"old-base", "new-base"} {
		if v := c.String(f); v != "" {
			if layout.IsRef(v) {
				if _, err := layout.Parse(v); err != nil {
					return cli.Exit(fmt.Sprintf("--%s: %v", f, err), exitUsage)
				}
			} else if _, err := name.ParseReference(v); err != nil {
				return cli.Exit(fmt.Sprintf("--%s %q: %v", f, v, err), exitUsage)
			}
		}
	}
	if rep := c.String("report"); rep != "" {
		f, err := os.OpenFile(rep, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--report: %v", err), exitUsage)
		}
		f.Close()
	}
	return nil
}

// options are the engine's options from the flags.
func options(c *cli.Context) []rebase.Option {
	opts := []rebase.Option{
		rebase.WithJobs(c.Int("jobs")),
		rebase.WithMaxRequests(c.Int("max-requests")),
		rebase.WithDryRun(c.Bool("dry-run")),
		rebase.WithStrict(c.Bool("strict")),
		rebase.WithTag(c.Bool("tag")),
		rebase.WithKeepConfig(c.Bool("keep-config")),
		rebase.WithInsecure(c.Bool("insecure")),
		rebase.WithTimeout(c.Duration("timeout")),
		rebase.WithMaxRetryWait(c.Duration("max-retry-wait")),
		rebase.WithNotices(log.New(c.App.ErrWriter, "crane-rebase-stream: ", 0)),
		rebase.WithReferrers(!c.Bool("no-referrers")),
		rebase.WithUserAgent("rebasekit/crane-rebase-stream " + version()),
		rebase.WithKeychain(keychain()),
	}
	if c.String("old-base") != "" {
		opts = append(opts, rebase.WithOldBase(c.String("old-base")), rebase.WithNewBase(c.String("new-base")))
	}
	if c.Bool("verbose") {
		opts = append(opts, rebase.WithLogger(log.New(c.App.ErrWriter, "crane-rebase-stream: ", 0)))
	}
	return opts
}
