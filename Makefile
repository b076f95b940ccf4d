GO       ?= go
FUZZTIME ?= 10s
PKGS     := ./...

.PHONY: all build test deps vet unit fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o paddock ./cmd/paddock

# The one test command: installs what tests need, then vets, runs every
# test with the race detector, and runs each fuzz target briefly.
test: deps vet unit fuzz

deps:
	bash .ci/deps

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Each fuzz target runs for FUZZTIME (go test allows one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -f paddock
