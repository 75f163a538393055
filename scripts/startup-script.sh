#!/usr/bin/env bash
# vpclink forwarder startup script: the instance template's startup-script.
# Installs /usr/local/bin/vpclink and vpclink-agent.service, then enables and
# starts the agent. It runs on every boot and is idempotent: the agent is
# restarted only when the binary or the unit changed.
#
# Sources, first found wins (instance or project metadata attributes):
#   binary  vpclink-binary-url     https://... or gs://bucket/object
#           (checked against vpclink-binary-sha256 when that is set),
#           else the image's /usr/local/share/vpclink/vpclink,
#           else a /usr/local/bin/vpclink already in the image.
#   unit    vpclink-agent-unit     the unit file's text (terraform:
#                                  file("systemd/vpclink-agent.service")),
#           else the image's /usr/local/share/vpclink/vpclink-agent.service.
# The agent reads its own configuration from the vpclink-config attribute.
set -euo pipefail

readonly BIN=/usr/local/bin/vpclink
readonly UNIT=/etc/systemd/system/vpclink-agent.service
readonly IMAGE_DIR=/usr/local/share/vpclink
readonly MD="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"

log() { echo "vpclink-startup: $*" >&2; }

# attr KEY prints an instance attribute, else the project attribute; it
# fails (status 1, no output) when neither is set.
attr() {
	local key=$1
	curl -fsS --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' "$MD/instance/attributes/$key" 2>/dev/null ||
		curl -fsS --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' "$MD/project/attributes/$key" 2>/dev/null
}

# download URL DEST fetches https:// as is and gs:// through the storage
# JSON API with the instance's service account token.
download() {
	local url=$1 dest=$2
	case $url in
	gs://*)
		local path=${url#gs://} bucket object token
		bucket=${path%%/*}
		object=${path#*/}
		object=${object//\//%2F}
		token=$(curl -fsS -H 'Metadata-Flavor: Google' "$MD/instance/service-accounts/default/token" |
			sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
		[[ -n $token ]] || { log "no service account token for $url"; return 1; }
		curl -fsS --retry 5 -H "Authorization: Bearer $token" -o "$dest" \
			"https://storage.googleapis.com/storage/v1/b/$bucket/o/$object?alt=media"
		;;
	https://* | http://*)
		curl -fsSL --retry 5 -o "$dest" "$url"
		;;
	*)
		log "vpclink-binary-url: $url: want https:// or gs://"
		return 1
		;;
	esac
}

# install_if_changed SRC DEST MODE copies SRC over DEST atomically when the
# contents differ; status 0 means it changed something.
install_if_changed() {
	local src=$1 dest=$2 mode=$3
	if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
		return 1
	fi
	install -m "$mode" -D "$src" "$dest.new"
	mv -f "$dest.new" "$dest"
	log "installed $dest"
}

main() {
	local changed=0 url sum unit
	tmp=$(mktemp -d)

	if url=$(attr vpclink-binary-url) && [[ -n $url ]]; then
		log "fetching $url"
		download "$url" "$tmp/vpclink"
		if sum=$(attr vpclink-binary-sha256) && [[ -n $sum ]]; then
			echo "$sum  $tmp/vpclink" | sha256sum -c --quiet - ||
				{ log "vpclink-binary-sha256 does not match $url"; exit 1; }
		fi
		chmod 0755 "$tmp/vpclink"
		"$tmp/vpclink" version >/dev/null || { log "$url is not a working vpclink binary"; exit 1; }
		install_if_changed "$tmp/vpclink" "$BIN" 0755 && changed=1
	elif [[ -x $IMAGE_DIR/vpclink ]]; then
		install_if_changed "$IMAGE_DIR/vpclink" "$BIN" 0755 && changed=1
	elif [[ ! -x $BIN ]]; then
		log "no binary: set vpclink-binary-url or bake $IMAGE_DIR/vpclink or $BIN into the image"
		exit 1
	fi

	if unit=$(attr vpclink-agent-unit) && [[ -n $unit ]]; then
		printf '%s\n' "$unit" >"$tmp/vpclink-agent.service"
	elif [[ -f $IMAGE_DIR/vpclink-agent.service ]]; then
		cp "$IMAGE_DIR/vpclink-agent.service" "$tmp/vpclink-agent.service"
	elif [[ ! -f $UNIT ]]; then
		log "no unit: set vpclink-agent-unit or bake $IMAGE_DIR/vpclink-agent.service into the image"
		exit 1
	fi
	if [[ -f $tmp/vpclink-agent.service ]]; then
		install_if_changed "$tmp/vpclink-agent.service" "$UNIT" 0644 && changed=1
	fi

	systemctl daemon-reload
	systemctl enable vpclink-agent.service
	if ((changed)) && systemctl is-active --quiet vpclink-agent.service; then
		# A restart drains first: routes are withdrawn, then re-announced.
		log "binary or unit changed, restarting the agent"
		systemctl restart --no-block vpclink-agent.service
	else
		# --no-block: READY=1 waits for the routes; do not hold up the boot.
		systemctl start --no-block vpclink-agent.service
	fi
	log "$("$BIN" version 2>/dev/null || echo "vpclink (version unknown)"): enabled and started"
}

tmp=""
trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT
main "$@"
