#!/usr/bin/env bash
# Start the services the scale-out tests need and wait until they answer. Safe to run twice.
#
# PostgreSQL: started with the Debian cluster tools if it is not already accepting connections.
# SeaweedFS (S3) is NOT started here: the pytest fixtures start a private instance per session.
#
# Env: PGHOST (default 127.0.0.1), PGPORT (5432), SERVICES_TIMEOUT seconds to wait (60).
set -euo pipefail

host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"
timeout="${SERVICES_TIMEOUT:-60}"

log() { printf '[services] %s\n' "$*" >&2; }

pg_ready() { pg_isready -q -h "$host" -p "$port" -t 2 >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1; then
    log "pg_isready not found: install the postgresql-client package (apt-get install postgresql)"
    exit 1
fi

if pg_ready; then
    log "PostgreSQL already accepting connections on $host:$port"
else
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
        log "PostgreSQL is not running on $host:$port and no Debian cluster (pg_ctlcluster, /etc/postgresql) is installed"
        exit 1
    fi
    # newest installed major version first; each has a cluster called "main" on Debian
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    if [ -z "$version" ]; then
        log "no PostgreSQL cluster under /etc/postgresql; create one with pg_createcluster"
        exit 1
    fi
    status=0
    pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
        log "cluster $version/main is running but not yet accepting connections; waiting"
    else
        log "starting PostgreSQL cluster $version/main"
        # "already running" (exit 2) is fine: a concurrent run of this script may have won the race
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null
    fi
fi

deadline=$(( $(date +%s) + timeout ))
until pg_ready; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "PostgreSQL did not accept connections on $host:$port within ${timeout}s"
        exit 1
    fi
    sleep 0.5
done
log "PostgreSQL ready on $host:$port"
