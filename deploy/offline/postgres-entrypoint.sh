#!/bin/sh
# Initialise the cluster on first start (user, password, database from the environment), then
# run postgres as the postgres user in the foreground.
set -eu
DATA=/var/lib/postgresql/data
USER_NAME=${POSTGRES_USER:-postgres}
mkdir -p "$DATA" /var/run/postgresql
chown postgres:postgres "$DATA" /var/run/postgresql
chmod 700 "$DATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$DATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb -D "$DATA" -U "$USER_NAME" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$DATA/pg_hba.conf"
    as_postgres pg_ctl -D "$DATA" -o "-c listen_addresses=''" -w start >/dev/null
    DB_NAME=${POSTGRES_DB:-$USER_NAME}
    if [ "$DB_NAME" != postgres ]; then
        as_postgres createdb -U "$USER_NAME" -O "$USER_NAME" "$DB_NAME"
    fi
    as_postgres pg_ctl -D "$DATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$DATA" -c listen_addresses='*'
