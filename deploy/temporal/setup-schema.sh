#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to the version that
# this admin-tools image ships. docker-compose.yml runs it as the temporal-schema job on every
# `up`, before the server starts, with the server's own database variables (DB, POSTGRES_SEEDS,
# DB_PORT, POSTGRES_USER, POSTGRES_PWD, DBNAME, VISIBILITY_DBNAME).
#
# Running it again is safe: an existing database is kept, `setup-schema -v 0.0` leaves a
# versioned schema alone, and `update-schema` applies only the versions not applied yet. That is
# also how a server upgrade migrates: raise the admin-tools and server tags together.
set -eu

# temporal-sql-tool reads its connection from these (never from the command line, where other
# users of the host could read the password).
export SQL_PLUGIN="${DB:-postgres12}"
export SQL_HOST="${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
export SQL_PORT="${DB_PORT:-5432}"
export SQL_USER="${POSTGRES_USER:?set POSTGRES_USER}"
export SQL_PASSWORD="${POSTGRES_PWD:?set POSTGRES_PWD}"

SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

setup() {
    database=$1
    versioned_dir=$2
    # `create` fails when the database already exists; a real problem (wrong password,
    # unreachable host) fails setup-schema right after, with the database's error.
    if temporal-sql-tool --db "$database" create; then
        echo "Created database $database"
    else
        echo "Not created (it probably exists): $database"
    fi
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$versioned_dir"
    echo "Schema of $database is up to date"
}

setup "${DBNAME:-temporal}" "$SCHEMA_DIR/temporal/versioned"
setup "${VISIBILITY_DBNAME:-temporal_visibility}" "$SCHEMA_DIR/visibility/versioned"
