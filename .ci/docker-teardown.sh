#!/usr/bin/env bash
# Stop the dockerd that docker-setup.sh started, by its pid; leave any other
# engine alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pid_file="${DWWX_CI_STATE:-$here/cache}/dockerd.pid"

if [[ ! -s "$pid_file" ]]; then
    echo "no dockerd started by docker-setup.sh ($pid_file is absent)" >&2
    exit 0
fi

pid="$(cat "$pid_file")"
if kill -0 "$pid" 2>/dev/null && [[ "$(cat /proc/"$pid"/comm)" == dockerd ]]; then
    kill -TERM "$pid"
    # dockerd stops its containers first, which can take a while.
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "dockerd $pid still runs after 30s; leaving it" >&2
        exit 1
    fi
    echo "stopped dockerd $pid" >&2
fi
rm -f "$pid_file"
