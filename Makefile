GO       ?= go
FUZZTIME ?= 10s
PKGS     := ./...

.PHONY: all build test deps vet unit fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o paddock ./cmd/paddock

# The one test command: installs what tests need, then vets, runs every
# test with the race detector (and the storage fault layer's once more
# with the faults build tag that compiles its hooks in), and runs each
# fuzz target briefly.
test: deps vet unit fuzz

deps:
	bash .ci/deps

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) vet -tags faults ./actors/... ./cmd/...

# The fault suite (bench/robustness) drives server processes through
# go-zookeeper, whose reconnection with watches reads Conn.lastZxid while
# the new connection's recvLoop writes it (v1.0.4, conn.go sendSetWatches
# against recvLoop): the race detector reports that as a failure of
# whichever fault test met it. The suite's own unit tests run with -race,
# its fault runs without.
ROBUSTNESS_UNITS := ^(TestRegisterModel|TestNotTaken|TestCheck.*|TestNetwork.*|TestRewriteInitial|TestRacesSetWatches)$$
unit:
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list $(PKGS) | grep -v '/bench/robustness$$')
	$(GO) test -race -count=1 -run '$(ROBUSTNESS_UNITS)' ./bench/robustness
	$(GO) test -count=1 -timeout 30m ./bench/robustness
	$(GO) test -race -count=1 -tags faults ./actors/faults

# Each fuzz target runs for FUZZTIME (go test allows one target per run;
# .ci/fuzz says why a run may be repeated once).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    bash .ci/fuzz $$pkg $$t $(FUZZTIME); \
	  done; \
	done

clean:
	rm -f paddock

# Benchmarks (bench/README.md). bench-compare starts Apache ZooKeeper 3.8
# (Debian's package) and a Paddock built here, both standalone with fsync
# on, and sweeps read ratios on both, interleaved point by point.
.PHONY: bench-compare bench-micro bench-failover soak robustness robustness-soak
BENCH_COMPARE_OUT   ?= bench/results/compare
BENCH_COMPARE_FLAGS ?= -duration 10s -warmup 10s -point-warmup 2s -ratios 0,50,90,99,100 \
	-sessions 8 -inflight 64 -keys 1000 -value-size 100 -zk-heap 1g

bench-compare:
	CGO_ENABLED=0 $(GO) build -o bin/paddock-compare ./cmd/paddock
	bin/paddock-compare bench compare -paddock bin/paddock-compare $(BENCH_COMPARE_FLAGS) -out $(BENCH_COMPARE_OUT)

# Go micro-benchmarks of the hot paths, with allocations.
BENCHTIME ?= 1s
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./wire ./statemachine ./actors ./bench

# A longer crash soak than CI's three rounds: kill -9 during writes, restart,
# check every acknowledged write (cmd/paddock/crash_test.go).
CRASH_ROUNDS ?= 50
soak:
	PADDOCK_CRASH_ROUNDS=$(CRASH_ROUNDS) $(GO) test -run Crash -count=1 -timeout 30m ./cmd/paddock

# Failover: SIGKILL of the leader of a 3-member Paddock and a 3-member
# ZooKeeper ensemble (tickTime=500), a client writing in a loop; the
# longest write gap and whether the session survived, side by side.
FAILOVER_ROUNDS ?= 10
bench-failover:
	CGO_ENABLED=0 $(GO) build -o bin/paddock-failover ./cmd/paddock
	bin/paddock-failover bench failover -rounds $(FAILOVER_ROUNDS)

# The fault suite (bench/robustness) as a nightly sweep: every fault class
# ROBUSTNESS_COUNT times (20 histories per class) with a longer load
# around each fault; `make test` runs it once with the short default.
# robustness-soak runs every class once with a long load (the fault again
# every 30 s of it). Both need root (each member runs in its own mount
# namespace).
ROBUSTNESS_DURATION ?= 20s
ROBUSTNESS_COUNT    ?= 20
SOAK_DURATION       ?= 10m
robustness:
	ROBUSTNESS_DURATION=$(ROBUSTNESS_DURATION) $(GO) test -count=$(ROBUSTNESS_COUNT) -v -timeout 600m ./bench/robustness
robustness-soak:
	ROBUSTNESS_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -timeout 600m ./bench/robustness
