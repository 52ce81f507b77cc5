#!/usr/bin/env bash
# Behave like the official postgres image's entrypoint, in short: make the
# cluster on first start, then exec postgres with the container's arguments.
set -euo pipefail

# `docker run image -p 5433` means `postgres -p 5433`.
if [[ "${1:-}" == -* ]]; then
    set -- postgres "$@"
fi

if [[ "${1:-}" != postgres ]]; then
    exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
        echo "error: set POSTGRES_PASSWORD; the database refuses to start without one" >&2
        exit 1
    fi
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"

    # POSTGRES_INITDB_ARGS is a list of flags, split on spaces as the
    # official image does.
    # shellcheck disable=SC2086
    initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 \
        ${POSTGRES_INITDB_ARGS:-}
    # TCP clients come from anywhere with host networking; all need the password.
    printf "\nhost all all all scram-sha-256\n" >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    # A socket-only server for the set-up, so no client connects half-way.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p ${PGPORT:-5432}" start
    if [[ "$db" != postgres ]]; then
        psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres \
            --set db="$db" <<<'CREATE DATABASE :"db";'
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        # The user's own init scripts are sourced, as upstream does.
        # shellcheck disable=SC1090
        case "$script" in
            *.sh) . "$script" ;;
            *.sql) psql -v ON_ERROR_STOP=1 --username "$user" --dbname "$db" -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
