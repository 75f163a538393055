#!/usr/bin/env bash
# vpclink VM startup script: the startup-script of both instance templates,
# forwarders (vpclink-agent.service) and reconcilers
# (vpclink-reconciler.service); terraform/modules/* set it and its attributes.
# It runs on every boot and is safe to repeat: it installs the vpclink binary,
# one systemd unit and, where asked, a config file, and makes sure the unit is
# enabled and started; only then, where asked, Google's Ops Agent. The unit is
# restarted only when its binary, unit file or config file changed:
# restarting the agent withdraws and re-announces the forwarder's routes.
#
# Nothing slow comes before the unit starts: autohealing counts from 120-180 s
# after creation and /healthz answers only once the unit runs. The Ops
# Agent's installer (a repository script plus apt, minutes without NAT) runs
# in the background after the start, logging to
# /var/log/vpclink-ops-agent-install.log; an image with the Ops Agent baked in
# skips it. Every fetch has a connect timeout.
#
# Everything comes from metadata attributes; an instance attribute wins over
# the project attribute of the same name, and an empty value means unset.
#   vpclink-binary-url     https://... or gs://bucket/object (gs:// is read
#                          with the VM's service account). Unset: the image's
#                          /usr/local/share/vpclink/vpclink, else the
#                          /usr/local/bin/vpclink already installed.
#   vpclink-binary-sha256  hex SHA-256 the binary must have. A binary that
#                          does not match is refused: exit 1, nothing changed.
#                          An installed binary is downloaded again only when
#                          it does not match this digest or, without one, when
#                          the URL changed: a reboot needs no download, and
#                          new versions reach VMs by recreating them.
#   vpclink-unit-name      the unit to install and start
#                          (default vpclink-agent.service).
#   vpclink-unit           the unit file's text. Unset: the image's
#                          /usr/local/share/vpclink/<unit name>, else the file
#                          already in /etc/systemd/system.
#   vpclink-config-path    write the vpclink-config attribute to this file
#                          (the reconciler: /etc/vpclink/reconciler.yaml).
#                          Unset: no file; the agent reads vpclink-config
#                          from the metadata server itself.
#   vpclink-ops-agent      "true": install Google's Ops Agent when missing (in
#                          the background) and configure it: the unit's
#                          journal lines to Cloud Logging, parsed as JSON,
#                          localhost:<vpclink-metrics-port>/metrics to Managed
#                          Service for Prometheus as job <vpclink-metrics-job>.
#
# Environment, for tests: GCE_METADATA_HOST=host:port (as the Google client
# libraries read it); VPCLINK_ROOT=/dir installs every file under /dir
# instead of / (systemctl is still called as usual); curl honours
# CURL_CA_BUNDLE; VPCLINK_OPS_AGENT_REPO_SCRIPT replaces the URL of Google's
# add-google-cloud-ops-agent-repo.sh. Log lines start with "vpclink-startup:".
set -euo pipefail

readonly ROOT=${VPCLINK_ROOT:-}
readonly BIN=$ROOT/usr/local/bin/vpclink
readonly IMAGE_DIR=$ROOT/usr/local/share/vpclink
# The URL the installed binary came from, to notice a changed URL.
readonly BINARY_SOURCE=$ROOT/var/lib/vpclink-startup/binary-url
readonly OPS_AGENT_DIR=$ROOT/etc/google-cloud-ops-agent
readonly OPS_AGENT_REPO_SCRIPT=${VPCLINK_OPS_AGENT_REPO_SCRIPT:-https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh}
# The background Ops Agent install: its work files and its log.
readonly OPS_AGENT_WORK=$ROOT/var/lib/vpclink-startup/ops-agent
readonly OPS_AGENT_LOG=$ROOT/var/log/vpclink-ops-agent-install.log
readonly MD="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"

log() { echo "vpclink-startup: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# attr KEY FILE writes metadata attribute KEY (instance, else project) to
# FILE. Status 0: set and not empty; 1: unset or empty. A metadata server
# that cannot be read ends the script: an outage must not pass for an unset
# attribute.
attr() {
	local key=$1 out=$2 scope code
	for scope in instance project; do
		code=$(curl -sS --connect-timeout 5 --max-time 10 --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' \
			-o "$out" -w '%{http_code}' "$MD/$scope/attributes/$key") ||
			die "metadata server $MD: reading $scope/attributes/$key failed"
		case $code in
		200)
			[[ -s $out ]]
			return
			;;
		404) ;;
		*) die "metadata server $MD: $scope/attributes/$key: HTTP $code" ;;
		esac
	done
	return 1
}

# value KEY VAR sets VAR to attribute KEY, "" when unset, without the
# trailing newlines.
value() {
	if attr "$1" "$tmp/attr"; then
		printf -v "$2" '%s' "$(<"$tmp/attr")"
	else
		printf -v "$2" '%s' ""
	fi
}

# download URL DEST fetches https:// as is and gs:// through the Cloud
# Storage JSON API with the VM's service account token.
download() {
	local url=$1 dest=$2
	case $url in
	gs://*)
		local path=${url#gs://} bucket object token
		bucket=${path%%/*}
		object=${path#*/}
		object=${object//\//%2F}
		token=$(curl -fsS --connect-timeout 5 --max-time 10 --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' \
			"$MD/instance/service-accounts/default/token" |
			sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') ||
			die "metadata server $MD: no service account token to read $url"
		[[ -n $token ]] || die "metadata server $MD: no service account token to read $url"
		curl -fsS --connect-timeout 10 --max-time 300 --retry 5 --retry-connrefused -H "Authorization: Bearer $token" -o "$dest" \
			"https://storage.googleapis.com/storage/v1/b/$bucket/o/$object?alt=media" ||
			die "vpclink-binary-url: cannot download $url"
		;;
	https://*)
		curl -fsSL --connect-timeout 10 --max-time 300 --retry 5 --retry-connrefused -o "$dest" "$url" ||
			die "vpclink-binary-url: cannot download $url"
		;;
	*) die "vpclink-binary-url: $url: want https:// or gs://" ;;
	esac
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# differs SRC DEST reports whether DEST is missing or not a copy of SRC.
differs() { [[ ! -f $2 ]] || ! cmp -s "$1" "$2"; }

# replace SRC DEST MODE installs SRC as DEST atomically (rename), creating
# DEST's directory when needed.
replace() {
	install -m "$3" -D "$1" "$2.new"
	mv -f "$2.new" "$2"
	log "installed ${2#"$ROOT"}"
}

# The run has two phases. Staging reads every attribute, downloads and checks
# the binary, and prepares every file in $tmp; any problem ends the script
# there, before anything changed. Installing then replaces only the files
# that differ and tells systemd.

# stage_binary sets bin_src to the binary to install ("" keeps the
# installed one) and bin_from to where it came from, for messages.
stage_binary() {
	local want have="" got
	value vpclink-binary-url bin_url
	value vpclink-binary-sha256 want
	want=${want,,}
	[[ -z $want || $want =~ ^[0-9a-f]{64}$ ]] || die "vpclink-binary-sha256: '$want' is not a hex SHA-256"
	if [[ -f $BIN ]]; then
		have=$(sha256 "$BIN")
	fi

	bin_src=""
	if [[ -n $bin_url ]]; then
		if [[ -n $have && -n $want && $have == "$want" ]]; then
			return 0
		fi
		if [[ -n $have && -z $want && -f $BINARY_SOURCE && $(<"$BINARY_SOURCE") == "$bin_url" ]]; then
			return 0
		fi
		log "fetching $bin_url"
		download "$bin_url" "$tmp/vpclink"
		bin_src=$tmp/vpclink bin_from=$bin_url
	elif [[ -f $IMAGE_DIR/vpclink ]]; then
		bin_src=$IMAGE_DIR/vpclink bin_from=/usr/local/share/vpclink/vpclink
	elif [[ -n $have ]]; then
		bin_from=/usr/local/bin/vpclink
	else
		die "no binary: set vpclink-binary-url, or put it in the image at /usr/local/share/vpclink/vpclink"
	fi

	if [[ -n $want ]]; then
		got=$(sha256 "${bin_src:-$BIN}")
		[[ $got == "$want" ]] ||
			die "vpclink-binary-sha256 mismatch: $bin_from has SHA-256 $got, want $want; refusing it, nothing changed"
	fi
	if [[ -n $bin_src ]] && ! differs "$bin_src" "$BIN"; then
		bin_src=""
	fi
	if [[ -n $bin_src ]]; then
		# Tried where it will run, as /tmp may be mounted noexec.
		install -m 0755 -D "$bin_src" "$BIN.new"
		if ! "$BIN.new" version >/dev/null; then
			rm -f "$BIN.new"
			die "$bin_from is not a working vpclink binary ('vpclink version' failed); nothing changed"
		fi
	fi
}

# stage_unit sets unit_src to the unit file to install ("" keeps the
# installed one).
stage_unit() {
	value vpclink-unit-name unit_name
	unit_name=${unit_name:-vpclink-agent.service}
	[[ $unit_name =~ ^[A-Za-z0-9@_.:-]+\.service$ ]] ||
		die "vpclink-unit-name: '$unit_name': want a unit file name such as vpclink-agent.service"
	unit_dest=$ROOT/etc/systemd/system/$unit_name
	unit_src=""
	if attr vpclink-unit "$tmp/unit"; then
		unit_src=$tmp/unit
	elif [[ -f $IMAGE_DIR/$unit_name ]]; then
		unit_src=$IMAGE_DIR/$unit_name
	elif [[ ! -f $unit_dest ]]; then
		die "no unit: set vpclink-unit, or put it in the image at /usr/local/share/vpclink/$unit_name"
	fi
}

# stage_config puts vpclink-config in $tmp/config when vpclink-config-path
# is set, and sets config_dest.
stage_config() {
	local path
	value vpclink-config-path path
	config_dest=""
	[[ -n $path ]] || return 0
	[[ $path == /* && $path != *..* ]] || die "vpclink-config-path: '$path': want an absolute path"
	attr vpclink-config "$tmp/config" || die "vpclink-config-path is $path but vpclink-config is unset"
	config_dest=$ROOT$path
}

# stage_ops_agent renders the Ops Agent's config to $tmp/ops-agent.yaml when
# vpclink-ops-agent is "true", and sets ops_agent=1. Call after stage_unit.
stage_ops_agent() {
	local enabled job port
	value vpclink-ops-agent enabled
	ops_agent=0
	[[ ${enabled,,} == true ]] || return 0
	ops_agent=1
	value vpclink-metrics-job job
	value vpclink-metrics-port port
	[[ $job =~ ^[A-Za-z0-9_.-]+$ ]] || die "vpclink-metrics-job: '$job': want a Prometheus job name"
	[[ $port =~ ^[0-9]+$ ]] || die "vpclink-metrics-port: '$port': want a port number"
	# Logs: the journal, less every unit but this one; then the JSON line,
	# which journald keeps in the record's MESSAGE field (parse_json's field
	# names the record's key itself, as Fluent Bit's parser filter Key_Name
	# does: the jsonPayload. prefix exists only in the log entry it becomes),
	# becomes jsonPayload, and its "severity" the entry's severity. The
	# log-based metrics read jsonPayload.component, op, instance, err and
	# evidence (test/startup checks them against terraform/modules/monitoring).
	# Metrics: /metrics to Managed Service for Prometheus.
	cat >"$tmp/ops-agent.yaml" <<OPS_AGENT
logging:
  receivers:
    vpclink_journal:
      type: systemd_journald
  processors:
    vpclink_only:
      type: exclude_logs
      matches_any:
        - 'NOT jsonPayload."_SYSTEMD_UNIT" = "$unit_name"'
    vpclink_json:
      type: parse_json
      field: MESSAGE
    vpclink_severity:
      type: modify_fields
      fields:
        severity:
          move_from: jsonPayload.severity
  service:
    pipelines:
      vpclink:
        receivers: [vpclink_journal]
        processors: [vpclink_only, vpclink_json, vpclink_severity]
metrics:
  receivers:
    vpclink_prometheus:
      type: prometheus
      config:
        scrape_configs:
          - job_name: $job
            scrape_interval: 10s
            static_configs:
              - targets: ["localhost:$port"]
  service:
    pipelines:
      vpclink:
        receivers: [vpclink_prometheus]
OPS_AGENT
}

ops_agent_installed() {
	[[ -d $OPS_AGENT_DIR ]] && systemctl is-enabled --quiet google-cloud-ops-agent 2>/dev/null
}

# configure_ops_agent CONFIG installs CONFIG as the Ops Agent's config when it
# differs, and restarts the Ops Agent then.
configure_ops_agent() {
	if differs "$1" "$OPS_AGENT_DIR/config.yaml"; then
		replace "$1" "$OPS_AGENT_DIR/config.yaml" 0644
		systemctl restart google-cloud-ops-agent || log "Ops Agent restart failed"
	fi
}

# install_ops_agent_now CONFIG runs Google's installer, then configures the
# Ops Agent. Failures are logged, not fatal: without the Ops Agent, logs and
# metrics stay on the VM and vpclink works all the same; the next boot tries
# again.
install_ops_agent_now() {
	local config=$1 work=${1%/*}
	log "installing the Ops Agent from $OPS_AGENT_REPO_SCRIPT"
	if ! curl -fsSL --connect-timeout 10 --max-time 120 --retry 5 -o "$work/add-ops-agent-repo.sh" "$OPS_AGENT_REPO_SCRIPT" ||
		! bash "$work/add-ops-agent-repo.sh" --also-install; then
		log "Ops Agent install failed; logs and metrics stay on this VM"
		return 0
	fi
	configure_ops_agent "$config"
	log "Ops Agent installed and configured"
}

# start_ops_agent configures an installed Ops Agent at once; a missing one is
# installed in the background (its own copy of the config, its own log),
# so that the script, and the boot, never wait for apt. The background job
# outlives the script: google-startup-scripts.service is Type=oneshot with
# KillMode=process (GoogleCloudPlatform/guest-agent), so systemd leaves a
# startup script's children running; its output goes to the log file, not to
# the runner's pipe, which the runner would otherwise wait on.
start_ops_agent() {
	((ops_agent)) || return 0
	if ops_agent_installed; then
		configure_ops_agent "$tmp/ops-agent.yaml"
		return 0
	fi
	mkdir -p "$OPS_AGENT_WORK" "${OPS_AGENT_LOG%/*}"
	install -m 0644 "$tmp/ops-agent.yaml" "$OPS_AGENT_WORK/config.yaml"
	log "installing the Ops Agent in the background; log: ${OPS_AGENT_LOG#"$ROOT"}"
	(
		trap 'rm -rf "$OPS_AGENT_WORK"' EXIT
		install_ops_agent_now "$OPS_AGENT_WORK/config.yaml"
	) </dev/null >>"$OPS_AGENT_LOG" 2>&1 &
}

main() {
	[[ -z $ROOT || $ROOT == /* ]] || die "VPCLINK_ROOT: '$ROOT': want an absolute path"
	tmp=$(mktemp -d)

	stage_binary
	stage_unit
	stage_config
	stage_ops_agent

	local reload=0 restart=0
	if [[ -n $bin_src ]]; then
		mv -f "$BIN.new" "$BIN"
		log "installed /usr/local/bin/vpclink from $bin_from"
		restart=1
	fi
	if [[ -z $bin_url ]]; then
		rm -f "$BINARY_SOURCE"
	elif [[ ! -f $BINARY_SOURCE || $(<"$BINARY_SOURCE") != "$bin_url" ]]; then
		mkdir -p "${BINARY_SOURCE%/*}"
		printf '%s\n' "$bin_url" >"$BINARY_SOURCE.new"
		mv -f "$BINARY_SOURCE.new" "$BINARY_SOURCE"
	fi
	if [[ -n $unit_src ]] && differs "$unit_src" "$unit_dest"; then
		replace "$unit_src" "$unit_dest" 0644
		reload=1 restart=1
	fi
	# World-readable: configs hold no secrets, and the units run as dynamic
	# users.
	if [[ -n $config_dest ]] && differs "$tmp/config" "$config_dest"; then
		replace "$tmp/config" "$config_dest" 0644
		restart=1
	fi

	if ((reload)); then
		systemctl daemon-reload
	fi
	systemctl is-enabled --quiet "$unit_name" 2>/dev/null || systemctl enable "$unit_name"
	# --no-block: the agent signals READY only once its routes are DONE, which
	# may take long; the boot does not wait for that.
	if ((restart)); then
		# Restarting the agent drains first: routes withdrawn, then re-announced.
		log "binary, unit or config changed: restarting $unit_name"
		systemctl restart --no-block "$unit_name"
	else
		systemctl start --no-block "$unit_name"
	fi
	log "$("$BIN" version 2>/dev/null || echo "vpclink (version unknown)"): $unit_name enabled and started"
	start_ops_agent
}

# Set by the stage_* functions, used by main.
tmp="" bin_url="" bin_src="" bin_from="" unit_name="" unit_src="" unit_dest="" config_dest="" ops_agent=0
# A binary staged as $BIN.new but not installed (a later stage refused) goes.
trap 'rm -f "$BIN.new"; [[ -z $tmp ]] || rm -rf "$tmp"' EXIT
main "$@"
