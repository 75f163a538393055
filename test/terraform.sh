#!/usr/bin/env bash
# Checks the terraform in terraform/: fmt, then init + validate on every module
# and example, then `terraform test` (mocked google provider) in each module.
#
# The google provider cannot be downloaded here (no registry access), and the
# Go module proxy cannot serve it either: its go.mod says
# `module github.com/hashicorp/terraform-provider-google` without a /vN suffix,
# so Go can only address its v1.x tags (v1.20.0, plugin protocol 4, which
# terraform >= 0.12 refuses); v2+ tags are not valid versions of that path.
# So the provider binary is looked up in a cache outside the repository
# ($XDG_CACHE_HOME/vpclink/terraform-providers, laid out as a filesystem
# mirror) and terraform is pointed at it with a temporary CLI config.
#
# Without terraform on PATH, or without the provider binary in the cache, the
# provider-dependent steps print SKIP and the script exits 0.
set -euo pipefail

cd "$(dirname "$0")/.."

version=${VPCLINK_TF_GOOGLE_VERSION:-7.45.0}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vpclink
mirror=$cache/terraform-providers
provider_dir=$mirror/registry.terraform.io/hashicorp/google/$version/linux_amd64
provider_bin=$provider_dir/terraform-provider-google_v$version

if ! command -v terraform >/dev/null 2>&1; then
  echo "SKIP terraform: no terraform binary on PATH"
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

echo "== terraform $(terraform version | head -1)"
if terraform fmt -check -recursive -diff terraform >"$work/fmt.out" 2>&1; then
  pass "fmt -check -recursive terraform"
else
  cat "$work/fmt.out"
  fail "fmt -check -recursive terraform"
fi

ensure_provider() {
  [ -x "$provider_bin" ] && return 0
  echo "SKIP terraform validate/test: no google provider $version at $provider_bin"
  echo "     (the Go module proxy cannot serve provider versions >= 2, see the comment at the top of this script;"
  echo "      place a terraform-provider-google_v$version binary there, or set VPCLINK_TF_GOOGLE_VERSION to one you have)"
  return 1
}

if ! ensure_provider; then
  echo "terraform: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

cat >"$cli_config" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/google"]
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
  run_in "$dir" "init $rel" terraform init -backend=false -input=false -no-color || continue
  run_in "$dir" "validate $rel" terraform validate -no-color || true
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    if run_in "$dir" "test $rel" terraform test -no-color; then
      grep -E '^Success!|^Failure!' "$work/out" | sed "s|^|     $rel: |"
    fi
  fi
done

if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "terraform: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
