# Skiff: build, run and test. `make help` lists the targets.
GO       ?= go
BIN      := bin/skiff
DATA_DIR ?= /var/lib/skiff
FUZZTIME ?= 10s
# The embedded kubectl reports this client version (its library's release).
LDFLAGS  := -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37

# Go is installed in /usr/local/go, which is not always on PATH.
ifeq ($(shell command -v $(GO)),)
export PATH := $(PATH):/usr/local/go/bin
endif

.PHONY: help build run test unit integration fuzz bench clean killall uninstall

help:
	@echo "make build        build $(BIN)"
	@echo "make run          install what is missing, build, then start a single-node cluster (data in $(DATA_DIR))"
	@echo "make test         the whole suite: vet, unit, integration (real kubectl), short fuzz runs"
	@echo "make unit | integration | fuzz | bench"
	@echo "make killall      stop this node's pods, shims and containerd; remove its pod network (keeps $(DATA_DIR))"
	@echo "make uninstall    killall, then remove $(DATA_DIR) and the kubeconfig it wrote"

# Static (no cgo): nothing needs libc, and a dynamically linked build exports
# every symbol (kustomize imports Go's plugin package), which costs about 30 MB
# of resident memory in every skiff process. scripts/build.sh says when it
# downloads modules or compiles for long, so a first build does not look hung.
build:
	@GO=$(GO) scripts/build.sh -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/skiff

# The runtime's Debian packages, installed when missing (scripts/deps.sh, as
# .ci/run does). The seed's luksa/kubia image is built from images/kubia (an
# offline stand-in) into the air-gap folder the agent imports at start.
run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory build
	$(BIN) image build-demo $(DATA_DIR)/agent/images
	$(BIN) server --data-dir $(DATA_DIR)

# Without root, missing packages are reported and the tests needing them skip.
test:
	@scripts/deps.sh --optional test
	@$(MAKE) --no-print-directory build
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) fuzz

unit:
	$(GO) test -count=1 ./pkg/...

integration:
	$(GO) test -count=1 ./test/integration/...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./pkg/apiserver
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./pkg/patch
	$(GO) test -run '^$$' -fuzz '^FuzzReply$$' -fuzztime $(FUZZTIME) ./pkg/dns

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./pkg/storage/bolt
	$(GO) test -run '^$$' -bench BenchmarkAPI -benchtime 2000x ./test/bench/
	$(GO) test -run '^$$' -bench BenchmarkDatastore -benchtime 1x -timeout 30m ./test/bench/
	$(GO) test -run '^$$' -bench BenchmarkScale -benchtime 1x ./test/bench/
	$(GO) test -run '^$$' -bench BenchmarkDashboard -benchtime 1x ./test/bench/ ./test/browser/
	$(GO) test -run '^$$' -bench BenchmarkDNS -benchtime 3s ./test/bench/
	$(GO) test -run '^$$' -bench BenchmarkReply ./pkg/dns/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./pkg/proxy/ ./pkg/podnet/ ./pkg/ociregistry/
	$(GO) test -run '^$$' -bench BenchmarkPodStartup -benchtime 60x ./pkg/agent/
	$(GO) test -run '^$$' -bench BenchmarkExecCat -benchtime 3x ./pkg/streaming/
	$(GO) test -run '^$$' -bench 'BenchmarkPullFromMirror|BenchmarkNodeLoss' -benchtime 1x ./test/e2e/

killall: build
	$(BIN) killall --data-dir $(DATA_DIR)

uninstall: build
	$(BIN) uninstall --data-dir $(DATA_DIR)

clean:
	rm -rf bin
