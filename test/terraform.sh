#!/usr/bin/env bash
# Checks the terraform in terraform/: fmt, then init + validate on every module
# and example, then `terraform test` (mocked google provider) in each module.
#
# The google provider comes from a filesystem mirror outside the repository
# ($XDG_CACHE_HOME/vpclink/terraform-providers), which `make deps` fills: it
# builds the provider from the Go module proxy by pseudo-version (see the
# Makefile; the module path has no /vN suffix, so only a pseudo-version of a
# main-branch commit addresses a current provider) and files it as
# VPCLINK_TF_GOOGLE_VERSION, 8.0.0. terraform is pointed at the mirror with a
# temporary CLI config, so no registry is asked.
#
# The engine is terraform on PATH, else OpenTofu (tofu on PATH, or the one
# `make deps` builds into $XDG_CACHE_HOME/vpclink/bin where terraform is
# missing): both read these modules, mock providers and tests alike. Without
# either every step prints SKIP and the script exits 0. With an engine but
# without the provider in the mirror it fails: run `make deps` first.
set -euo pipefail

cd "$(dirname "$0")/.."

version=${VPCLINK_TF_GOOGLE_VERSION:-8.0.0}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vpclink
mirror=$cache/terraform-providers
provider_dir=$mirror/registry.terraform.io/hashicorp/google/$version/$(go env GOOS 2>/dev/null || echo linux)_$(go env GOARCH 2>/dev/null || echo amd64)
provider_bin=$provider_dir/terraform-provider-google_v$version

if command -v terraform >/dev/null 2>&1; then
  tf=terraform
elif command -v tofu >/dev/null 2>&1; then
  tf=tofu
elif [ -x "$cache/bin/tofu" ]; then
  tf=$cache/bin/tofu
else
  echo "SKIP terraform: neither terraform nor tofu on PATH, nor $cache/bin/tofu (make deps builds it)"
  exit 0
fi

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1"; }

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli_config=$work/terraformrc
: >"$cli_config"
export TF_CLI_CONFIG_FILE=$cli_config

echo "== $("$tf" version | head -1)"
if "$tf" fmt -check -recursive -diff terraform >"$work/fmt.out" 2>&1; then
  pass "fmt -check -recursive terraform"
else
  cat "$work/fmt.out"
  fail "fmt -check -recursive terraform"
fi

if [ ! -x "$provider_bin" ]; then
  fail "google provider $version at $provider_bin: missing (make deps builds it from the Go module proxy)"
  echo "terraform: $passed passed, $failed failed"
  exit 1
fi

cat >"$cli_config" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/google", "registry.opentofu.org/hashicorp/google"]
  }
}
CONFIG

# Work on a copy so that .terraform/ and lock files never land in the repo.
# The modules read ../../../systemd and ../../../scripts (the units and the VM
# startup script, which test/startup and test/shellcheck.sh check), so copy
# those trees too.
mkdir -p "$work/repo"
cp -r terraform systemd scripts "$work/repo/"
find "$work/repo" -name .terraform -prune -exec rm -rf {} + -o -name .terraform.lock.hcl -exec rm -f {} +

run_in() { # dir label command...
  local dir=$1 label=$2
  shift 2
  if (cd "$dir" && "$@") >"$work/out" 2>&1; then
    pass "$label"
  else
    cat "$work/out"
    fail "$label"
    return 1
  fi
}

for dir in "$work"/repo/terraform/modules/* "$work"/repo/terraform/examples/*; do
  [ -d "$dir" ] || continue
  rel=${dir#"$work/repo/"}
  run_in "$dir" "init $rel" "$tf" init -backend=false -input=false -no-color || continue
  run_in "$dir" "validate $rel" "$tf" validate -no-color || true
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    if run_in "$dir" "test $rel" "$tf" test -no-color; then
      grep -E '^Success!|^Failure!' "$work/out" | sed "s|^|     $rel: |"
    fi
  fi
done

if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "terraform: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
