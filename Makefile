# `make test` is the one command that sets up a fresh Debian machine and runs
# the whole suite; .ci/run calls exactly this.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: test deps run build vet bench

test: deps
	go vet ./...
	go test -count=1 -timeout 30m ./...

# Test dependencies from Debian: real Redis for the store, Sentinel and
# Cluster tests, Chromium for the browser tests.
deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing; \
	fi

run:
	go run ./cmd/authserver serve

build:
	go build -o authserver ./cmd/authserver

vet:
	gofmt -l . | (! grep .) && go vet ./...
