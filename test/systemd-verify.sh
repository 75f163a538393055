#!/usr/bin/env bash
# Verify every systemd/*.service of the repo with systemd-analyze verify.
#
# systemd-analyze exits 0 on parse warnings (an unknown key, a bad value it
# ignores), so any output on stderr is a failure here. The units name
# /usr/local/bin/vpclink, which verify checks is executable: the units are
# verified inside a temporary root holding a stub binary and a copy of the
# host's system units, so the check neither needs the real binary installed
# nor touches the host. Works as root or not, with or without systemd as
# PID 1.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# What the units refer to: the system units (targets they order against)
# and an executable at the path ExecStart names.
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/lib/systemd"
for dir in /lib/systemd/system /usr/lib/systemd/system; do
	if [[ -d $dir ]]; then
		mkdir -p "$root$dir"
		cp -a "$dir/." "$root$dir/"
	fi
done
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/vpclink"
chmod 0755 "$root/usr/local/bin/vpclink"

shopt -s nullglob
units=("$repo"/systemd/*.service)
if ((${#units[@]} == 0)); then
	echo "no systemd/*.service files in $repo" >&2
	exit 1
fi

failed=0
for unit in "${units[@]}"; do
	name=$(basename "$unit")
	cp "$unit" "$root/etc/systemd/system/$name"
	errfile=$(mktemp)
	rc=0
	systemd-analyze verify --man=no --root="$root" "/etc/systemd/system/$name" 2>"$errfile" >/dev/null || rc=$?
	if ((rc != 0)) || [[ -s $errfile ]]; then
		echo "FAIL $name (exit $rc):" >&2
		sed 's/^/    /' "$errfile" >&2
		failed=1
	else
		echo "ok   $name"
	fi
	rm -f "$errfile"
done
# Both units share one system-call filter (what the agent's netlink and
# sysctl work allows is what the reconciler has), and a filtered call fails
# with EPERM rather than killing the service.
filter_of() { grep -E '^(SystemCallFilter|SystemCallErrorNumber)=' "$1"; }
want_filter=$'SystemCallFilter=@system-service\nSystemCallFilter=~@privileged @resources\nSystemCallErrorNumber=EPERM'
for unit in "${units[@]}"; do
	name=$(basename "$unit")
	if [[ $(filter_of "$unit") == "$want_filter" ]]; then
		echo "ok   $name system-call filter"
	else
		echo "FAIL $name system-call filter: want" >&2
		printf '    %s\n' "$want_filter" >&2
		echo "got:" >&2
		filter_of "$unit" | sed 's/^/    /' >&2
		failed=1
	fi
done
exit "$failed"
