# vpclink: `make lab` builds the simulated VPC and runs the acceptance
# scenarios; `make test` runs every test tier. Both need root on Linux.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
BIN := bin/vpclink
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Debian packages the tests use: ip (lab/test inspection), systemd-analyze, shellcheck,
# rsvg-convert (the lab's timeline pictures as PNG next to the SVG).
DEB_PACKAGES := iproute2 systemd shellcheck librsvg2-bin nftables
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help build deps lint unit test-short scripts test lab lab-short clean
.DEFAULT_GOAL := help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/vpclink
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/vpclink

# The terraform google provider for test/terraform.sh, built from the Go module
# proxy. Its module path has no /vN suffix, so release tags >= v2 are not
# addressable there; a pseudo-version of a main-branch commit is. This one is
# two days after the 8.0.0 release (its CHANGELOG's newest entry), so it is
# filed as 8.0.0 in a filesystem-mirror layout outside the repository, which
# test/terraform.sh (same version and path) points terraform at. About 10
# minutes on 2 cores (25 on a busy machine), once.
# Without terraform on PATH (a new machine has none), OpenTofu runs the same
# checks: also from the Go module proxy, but its go.mod has a replace
# directive, which `go install pkg@version` refuses, so its source is
# downloaded and built as the main module. About 5 minutes on 2 cores, once.
VPCLINK_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vpclink
TOFU_MODULE := github.com/opentofu/opentofu
TOFU_VERSION ?= v1.12.6
TOFU_BIN := $(VPCLINK_CACHE)/bin/tofu
TF_GOOGLE_MODULE := github.com/hashicorp/terraform-provider-google
TF_GOOGLE_PSEUDO ?= v1.20.1-0.20260828184646-f3721fb45fa3
TF_GOOGLE_VERSION ?= 8.0.0
TF_PROVIDER_MIRROR ?= $(VPCLINK_CACHE)/terraform-providers
TF_GOOGLE_PATH := hashicorp/google/$(TF_GOOGLE_VERSION)/$(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)/terraform-provider-google_v$(TF_GOOGLE_VERSION)
TF_GOOGLE_BIN := $(TF_PROVIDER_MIRROR)/registry.terraform.io/$(TF_GOOGLE_PATH)
# OpenTofu reads the same provider source address as registry.opentofu.org.
TOFU_GOOGLE_BIN := $(TF_PROVIDER_MIRROR)/registry.opentofu.org/$(TF_GOOGLE_PATH)

deps: ## install what the tests need (Debian packages, staticcheck, OpenTofu where terraform is missing, the google provider); idempotent
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@if ! command -v terraform >/dev/null 2>&1 && [ ! -x "$(TOFU_BIN)" ]; then \
		echo "no terraform on PATH: building OpenTofu $(TOFU_VERSION) from the Go module proxy, about 5 minutes"; \
		src=$$($(GO) mod download -json $(TOFU_MODULE)@$(TOFU_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		[ -n "$$src" ] && mkdir -p "$(VPCLINK_CACHE)" && work=$$(mktemp -d "$(VPCLINK_CACHE)/tofu.build.XXXXXX") && \
		{ cp -r "$$src/." "$$work" && chmod -R u+w "$$work" && \
		(cd "$$work" && $(GO) build -trimpath -ldflags='-s -w' -o "$(TOFU_BIN)" ./cmd/tofu); }; rc=$$?; rm -rf "$$work"; exit $$rc; \
	fi
	@if [ ! -x "$(TF_GOOGLE_BIN)" ]; then \
		echo "building the terraform google provider $(TF_GOOGLE_VERSION) ($(TF_GOOGLE_MODULE)@$(TF_GOOGLE_PSEUDO)), about 10 minutes"; \
		mkdir -p "$(dir $(TF_PROVIDER_MIRROR))" && build=$$(mktemp -d "$(TF_PROVIDER_MIRROR).build.XXXXXX") && \
		{ GOBIN=$$build $(GO) install -trimpath -ldflags='-s -w' $(TF_GOOGLE_MODULE)@$(TF_GOOGLE_PSEUDO) && \
		install -m 0755 -D $$build/terraform-provider-google "$(TF_GOOGLE_BIN)"; }; rc=$$?; rm -rf "$$build"; exit $$rc; \
	fi
	@if [ ! -e "$(TOFU_GOOGLE_BIN)" ]; then mkdir -p "$(dir $(TOFU_GOOGLE_BIN))" && ln -f "$(TF_GOOGLE_BIN)" "$(TOFU_GOOGLE_BIN)"; fi

lint: deps ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

unit: deps ## go tests with -race (root tests in network namespaces run as root, skip otherwise)
	$(GO) test -race -count=1 -timeout 10m ./...

# The fast tier spends most of its time linking race test binaries and
# waiting on timers, little running tests. Two settings, this tier only:
# - atexit_sleep_ms=0: a race-enabled binary sleeps 1 s before it exits by
#   default (ThreadSanitizer's atexit_sleep_ms, documented in the Go race
#   detector article), one idle second per package. A race is still reported
#   when the test that races runs; only one in a goroutine outliving every
#   test could go unseen, and `make unit` keeps the sleep. A GORACE from the
#   environment is appended, so its options win.
# - -p 4: two packages linking while two others wait on their timers keep
#   both cores busy; the default (one package per core) leaves them idle.
test-short: ## the fast tier: go tests with -short -race (no namespaces, processes or harnesses; under a minute with warm caches)
	GORACE="atexit_sleep_ms=0 $$GORACE" $(GO) test -short -race -p 4 -timeout 5m ./...

test: lint unit scripts lab-short ## everything CI runs

scripts: deps ## shell-level checks: systemd units, shellcheck, terraform
	@for s in test/*.sh; do [ -e "$$s" ] || continue; echo "== $$s"; bash "$$s" || exit 1; done

LAB_ARGS ?=
LAB_SHORT := panic,rolling-update,nic1-flap

# Then the comparison: every design on the scenarios the earlier designs were
# judged by, in one run under one model (vpclink's rows again, beside them).
LAB_COMPARE := panic,rolling-update,nic1-flap

lab: build deps ## every acceptance scenario with real packets, gce profile (bin/lab-report.json); then every design on panic, rolling update, nic1 flap (bin/lab-compare.json); timelines bin/lab-*.svg/png, logs bin/lab-logs, bin/lab-compare-logs
	rm -rf bin/lab-logs bin/lab-compare-logs
	st=0; \
	$(BIN) lab --profile gce --json bin/lab-report.json --log-dir bin/lab-logs $(LAB_ARGS) || st=1; \
	$(BIN) lab --profile gce --design all --scenario $(LAB_COMPARE) --json bin/lab-compare.json --log-dir bin/lab-compare-logs $(LAB_ARGS) || st=1; \
	exit $$st

# The CI subset: fast profile, then one panic under the gce profile (the lab
# heals the victim at once instead of autohealing's 180 s initial delay); then
# the log-key test reads both runs' agent and reconciler logs (it runs even
# when a scenario failed, so that both failures are seen).
lab-short: build deps ## the lab's CI subset: panic, rolling update, nic1 flap (fast profile), panic (gce profile), log keys
	rm -rf bin/lab-short-logs
	st=0; \
	$(BIN) lab --profile fast --scenario $(LAB_SHORT) --json bin/lab-report-short.json --log-dir bin/lab-short-logs/fast $(LAB_ARGS) || st=1; \
	$(BIN) lab --profile gce --autohealing=false --scenario panic --json bin/lab-report-short-gce.json --log-dir bin/lab-short-logs/gce $(LAB_ARGS) || st=1; \
	for d in bin/lab-short-logs/fast bin/lab-short-logs/gce; do \
		VPCLINK_LAB_LOGS=$(CURDIR)/$$d $(GO) test -count=1 -run 'TestLabLogKeys$$' -v ./internal/lab/ || st=1; \
	done; \
	exit $$st

clean: ## remove build output
	rm -rf bin
