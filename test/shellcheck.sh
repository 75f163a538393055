#!/usr/bin/env bash
# Runs shellcheck on every shell script under scripts/, test/*.sh and the
# tests' stubs in test/*/testdata/ (such as test/startup's systemctl); any
# finding fails. Files without a .sh suffix are scripts when their shebang
# says so.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "shellcheck.sh: shellcheck is not installed; run 'make deps' (Debian package shellcheck)" >&2
  exit 1
fi

files=()
for f in scripts/* test/*.sh test/*/testdata/*; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sh) files+=("$f") ;;
    *) head -n1 "$f" | grep -Eq '^#!.*(ba|da|k)?sh( |$)' && files+=("$f") ;;
  esac
done

if [ ${#files[@]} -eq 0 ]; then
  echo "shellcheck.sh: no scripts found" >&2
  exit 1
fi

echo "shellcheck $(shellcheck --version | awk '/^version:/ {print $2}') on ${#files[@]} scripts"
failed=0
for f in "${files[@]}"; do
  if shellcheck --external-sources "$f"; then
    echo "ok   $f"
  else
    echo "FAIL $f"
    failed=$((failed + 1))
  fi
done
echo "shellcheck: $((${#files[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
