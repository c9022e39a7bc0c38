# `make test` is the one command that sets up a fresh Debian machine and runs
# the whole suite; .ci/run calls exactly this.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: test deps run build vet bench microbench

# Formatting first (any file gofmt -l lists fails the run), then vet, then
# the whole suite once under the race detector: grants, the servers, the
# stores, the client cache, the limiter and the app all run goroutines, and
# one -race run of everything costs ~15 s more than a plain run here, less
# than running the suite twice. After the suite, a few seconds of the load
# benchmark on every scenario (bench/baseline is a module of its own, so it
# is vetted apart): it fails when any request fails, and keeps the
# benchmark building. The Kubernetes manifest checks are a module of their
# own too (k8s.io stays out of go.mod), vetted and tested apart.
test: deps
	@unformatted="$$(gofmt -l .)" || exit 1; if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -C bench/baseline ./...
	go vet -C deploy/kubernetes/validate ./...
	GIN_MODE=release CGO_ENABLED=1 go test -race -count=1 -timeout 30m ./...
	GIN_MODE=release CGO_ENABLED=1 go test -C deploy/kubernetes/validate -race -count=1 -timeout 5m ./...
	go run ./cmd/authserver bench --smoke

# Test dependencies from Debian: real Redis for the store, Sentinel and
# Cluster tests, Chromium for the browser tests, gcc for the race detector
# (it needs cgo), podman to build and inspect the image (deploy/), Node.js
# and npm for the interop tests' third-party clients (the machine's own
# Node 20 is kept when there is one: the packages want Node 20 or newer).
# Then those clients from the npm registry, exactly as interop/
# package-lock.json pins them: npm ci when interop/node_modules is missing
# or older than the lock (npm's own copy of it in node_modules is the stamp).
deps:
	@missing=""; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ interop/package-lock.json -nt interop/node_modules/.package-lock.json ]; then \
		npm ci --prefix interop --no-audit --no-fund; \
	fi

run:
	go run ./cmd/authserver serve

build:
	go build -o authserver ./cmd/authserver

vet:
	gofmt -l . | (! grep .) && go vet ./...

# The published table (docs/BENCHMARKS.md): ours on the embedded store and
# on Redis beside the go-oauth2 baseline, median of 3 runs of 10 s each.
# Extra flags: make bench BENCHFLAGS="--store redis --runs 5".
bench: deps
	go run ./cmd/authserver bench $(BENCHFLAGS)

# Go micro-benchmarks of the hot paths, with allocations.
microbench: deps
	go test -run '^$$' -bench . -benchmem ./clients ./grants ./users ./store/redis ./store/embedded ./app
