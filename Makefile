# rebasekit: see README.md. Two commands do all set-up: `make demo` and `make test`.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
export GOTOOLCHAIN := local

.PHONY: all build install dist image test tools unit e2e demo bench fuzz vet clean

all: build

LDFLAGS  := -X github.com/rebasekit/rebasekit/internal/cmdline.version=$(VERSION)
TOOLS    := ko-extract crane-rebase-stream ko-rewrite
# make install: binaries into GOBIN (go env GOBIN, else GOPATH/bin); man
# pages and shell completions under PREFIX.
GOBIN    ?= $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
PREFIX   ?= $(HOME)/.local
MANDIR   ?= $(PREFIX)/share/man/man1
DIST     ?= dist

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

install:
	GOBIN=$(GOBIN) $(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/...
	mkdir -p $(MANDIR) $(PREFIX)/share/bash-completion/completions $(PREFIX)/share/zsh/site-functions $(PREFIX)/share/fish/vendor_completions.d
	for t in $(TOOLS); do \
	  $(GOBIN)/$$t --generate-man-page >$(MANDIR)/$$t.1 && \
	  $(GOBIN)/$$t --generate-completion bash >$(PREFIX)/share/bash-completion/completions/$$t && \
	  $(GOBIN)/$$t --generate-completion zsh >$(PREFIX)/share/zsh/site-functions/_$$t && \
	  $(GOBIN)/$$t --generate-completion fish >$(PREFIX)/share/fish/vendor_completions.d/$$t.fish || exit 1; \
	done
	@echo "make install: $(TOOLS) $(VERSION) in $(GOBIN); man pages in $(MANDIR); completions under $(PREFIX)/share"

# The toolkit's own images, one per tool, built by ko (.ko.yaml) and pushed
# to $$KO_DOCKER_REPO/TOOL, tagged VERSION; prints their references.
KO       ?= ko
KO_FLAGS ?=
image:
	@test -n "$$KO_DOCKER_REPO" || { echo "make image: set KO_DOCKER_REPO to the repository to push to (as for ko)" >&2; exit 2; }
	VERSION=$(VERSION) $(KO) build --base-import-paths --tags $(VERSION) $(KO_FLAGS) ./cmd/ko-extract ./cmd/crane-rebase-stream ./cmd/ko-rewrite

# Release archives for linux, darwin, windows x amd64, arm64 and SHA256SUMS.
dist:
	rm -rf $(DIST)
	$(GO) run ./internal/dist -version $(VERSION) -out $(DIST)

# All tests: unit, golden/round-trip and end-to-end (e2e/ needs the tools
# `make tools` installs; it skips without them locally and fails under
# CI=true). internal/testsummary prints what go test prints and ends with
# every skipped test and why (go test alone says nothing of a skip in a
# package that passed); its status is go test's.
test:
	$(GO) vet ./...
	@$(GO) build -o $(BIN)/testsummary ./internal/testsummary
	$(BIN)/testsummary -count=1 ./...

# The tools the end-to-end tests need, installed as CI installs them.
tools:
	bash .ci/tools.sh

unit:
	$(GO) test -count=1 -short ./...

e2e:
	$(GO) test -count=1 -v ./e2e/...

demo:
	$(GO) run ./internal/demo

bench:
	bash bench/yaml.sh
	bash bench/rebase.sh
	bash bench/memory.sh
	bash bench/fleet.sh
	bash bench/summary.sh

fuzz:
	$(GO) test ./pkg/yamlwalk -run='^$$' -fuzz=FuzzWalkRoundTrip -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/rewrite -run='^$$' -fuzz=FuzzParseImages -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/refs -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/rebase -run='^$$' -fuzz=FuzzStreamLines -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/linestream -run='^$$' -fuzz=FuzzParseShard -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/packages -run='^$$' -fuzz=FuzzParseAPK -fuzztime=$(FUZZTIME)
	$(GO) test ./pkg/packages -run='^$$' -fuzz=FuzzParseDpkgStatus -fuzztime=$(FUZZTIME)

clean:
	rm -rf $(BIN) $(DIST)
