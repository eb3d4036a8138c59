package main

import (
	"io"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"github.com/chrismellard/docker-credential-acr-env/pkg/credhelper"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/github"
	"github.com/google/go-containerregistry/pkg/v1/google"
)

// keychain resolves registry credentials the way ko v0.18.1 does
// (pkg/commands/config.go), with the same libraries in the same order, so
// a CI job or an in-cluster CronJob that can push with ko can rebase with
// no docker login:
//
//  1. Amazon ECR (amazon-ecr-credential-helper): *.dkr.ecr.*.amazonaws.com
//     and public.ecr.aws, from the AWS environment (keys, profile, IRSA,
//     instance role);
//  2. the docker config (authn.DefaultKeychain: docker login, credential
//     helpers, $DOCKER_CONFIG);
//  3. Google (ggcr's google.Keychain): gcr.io and *-docker.pkg.dev, from
//     gcloud or application default credentials (workload identity);
//  4. GitHub (ggcr's authn/github): ghcr.io with $GITHUB_TOKEN, as in
//     GitHub Actions;
//  5. Azure ACR (docker-credential-acr-env): *.azurecr.io, from the
//     AZURE_* environment (service principal, managed identity).
//
// The first that has credentials for a registry wins; each cloud keychain
// answers only for its own registries, so any other host is asked of the
// docker config alone (and without network access).
func keychain() authn.Keychain {
	return authn.NewMultiKeychain(
		authn.NewKeychainFromHelper(ecr.NewECRHelper(ecr.WithLogger(io.Discard))),
		authn.DefaultKeychain,
		google.Keychain,
		github.Keychain,
		authn.NewKeychainFromHelper(credhelper.NewACRCredentialsHelper()),
	)
}
