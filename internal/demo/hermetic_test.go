package main

import (
	"os"
	"testing"

	"github.com/rebasekit/rebasekit/internal/hermetic"
)

// TestMain runs the tests without the variables of the user's shell that
// the tools read (KO_DOCKER_REPO, the docker config, COSIGN_PASSWORD, ...).
func TestMain(m *testing.M) { os.Exit(hermetic.Main(m)) }
