#!/usr/bin/env bash
# Runs a command (e.g. `make docker-test`) with a Docker engine and Compose v2, for CI:
#
#   bash docker/with-engine.sh make docker-test
#
# As root on Debian, installs debootstrap (the stand-in images are built from a
# Debian root file system it makes; see docker/stackcheck/standins.py) if missing.
# An engine with Compose v2 that already answers is used as it is. Otherwise, only
# as root on Debian: installs Debian's engine (docker.io, containerd, runc,
# iptables) if no engine answers, builds a pinned Compose v2 CLI plugin from the Go
# module proxy into a cache kept across runs if Compose is missing, starts dockerd
# by hand in the background (no systemd) with its socket, data and state in a
# temporary directory, runs the command, then stops the daemon and undoes what it
# changed: the temporary directory, the iptables rules, ip_forward and the docker0
# bridge. The packages and the plugin cache stay.
set -euo pipefail

COMPOSE_VERSION=v2.40.3 # the last v2 release; v5 drops the built-in builder
COMPOSE_CACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/order-events-ci/compose-$COMPOSE_VERSION"

log() { printf 'with-engine: %s\n' "$*" >&2; }

started=$SECONDS
can_install=no
if [[ $EUID -eq 0 && -f /etc/debian_version ]]; then can_install=yes; fi

# Installs the Debian packages named that are not installed yet.
install_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then return; fi
  log "installing ${missing[*]} from Debian"
  apt-get update -qq
  # No init script may start a daemon on install (this script starts its own):
  # the usual policy-rc.d, only for the install, if there is none already.
  local policy=/usr/sbin/policy-rc.d own_policy=no status=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" > /dev/null || status=$?
  if [[ $own_policy == yes ]]; then rm -f "$policy"; fi
  return "$status"
}

# Debian bookworm has no Compose v2 package: build the plugin from its Go module
# (the module proxy serves it), once; later runs find it in the cache.
build_compose() {
  if [[ -x $COMPOSE_CACHE/docker-compose ]]; then return; fi
  command -v go > /dev/null || { log "Compose v2 must be built, and go is not on PATH"; exit 1; }
  log "building Docker Compose $COMPOSE_VERSION from the Go module proxy"
  local module source
  module=$(cd /tmp && go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION")
  source=$(printf '%s' "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  # `go install pkg@version` refuses this module (its go.mod has exclude
  # directives): build it as the main module, from a writable copy.
  rm -rf "$COMPOSE_CACHE.src"
  mkdir -p "$(dirname "$COMPOSE_CACHE")"
  cp -r "$source" "$COMPOSE_CACHE.src"
  chmod -R u+w "$COMPOSE_CACHE.src"
  mkdir -p "$COMPOSE_CACHE"
  (cd "$COMPOSE_CACHE.src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    -o "$COMPOSE_CACHE/docker-compose.partial" ./cmd)
  mv "$COMPOSE_CACHE/docker-compose.partial" "$COMPOSE_CACHE/docker-compose"
  rm -rf "$COMPOSE_CACHE.src"
}

engine_up=no
if docker info > /dev/null 2>&1; then engine_up=yes; fi
if [[ $can_install == yes ]]; then install_packages debootstrap; fi
if [[ $engine_up == yes ]] && docker compose version > /dev/null 2>&1; then
  log "using the Docker engine and Compose that are already there"
  exec "$@"
fi
if [[ $can_install == no ]]; then
  log "no Docker engine with Compose v2, and one is set up here only as root on Debian"
  exit 2
fi
if [[ $engine_up == no ]]; then install_packages docker.io containerd runc iptables; fi
build_compose

work=$(mktemp -d /var/tmp/order-events-engine.XXXXXX)
dockerd_pid=
stop_engine() {
  local status=$?
  # Every undo step is tried, whatever the one before it did.
  set +e
  if [[ -n $dockerd_pid ]]; then
    log "stopping dockerd (pid $dockerd_pid)"
    kill -TERM "$dockerd_pid" 2> /dev/null
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2> /dev/null || break; sleep 0.5; done
    kill -KILL "$dockerd_pid" 2> /dev/null
    wait "$dockerd_pid" 2> /dev/null
    # Mounts a killed daemon may have left (overlay layers, shm), deepest first.
    grep -o " $work/[^ ]*" /proc/mounts | sort -r | while read -r mount; do
      umount -l "$mount" 2> /dev/null
    done
    iptables-restore < "$work/iptables.before" || log "could not restore iptables"
    echo "$ip_forward" > /proc/sys/net/ipv4/ip_forward
    if [[ $had_bridge == no ]]; then ip link delete docker0 2> /dev/null; fi
  fi
  rm -rf "$work"
  log "took $((SECONDS - started))s; daemon stopped, changes undone"
  exit "$status"
}
trap stop_engine EXIT

# The client finds the plugin through DOCKER_CONFIG and the daemon started here
# through DOCKER_HOST: nothing in the home directory or /var/run changes.
mkdir -p "$work/config/cli-plugins"
ln -s "$COMPOSE_CACHE/docker-compose" "$work/config/cli-plugins/docker-compose"
export DOCKER_CONFIG="$work/config"

if [[ $engine_up == no ]]; then
  iptables-save > "$work/iptables.before"
  ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)
  had_bridge=no
  if ip link show docker0 > /dev/null 2>&1; then had_bridge=yes; fi
  export DOCKER_HOST="unix://$work/docker.sock"
  log "starting dockerd (data in $work)"
  dockerd --host "$DOCKER_HOST" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/dockerd.pid" --storage-driver overlay2 > "$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 120); do
    if docker info > /dev/null 2>&1; then break; fi
    if ! kill -0 "$dockerd_pid" 2> /dev/null; then
      log "dockerd exited:"
      tail -n 20 "$work/dockerd.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  docker info > /dev/null 2>&1 || { log "dockerd did not answer within 60 s"; exit 1; }
fi
log "engine $(docker version --format '{{.Server.Version}}')," \
  "compose $(docker compose version --short), ready after $((SECONDS - started))s"

"$@"
