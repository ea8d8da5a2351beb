#!/usr/bin/env bash
# Run by the postgres image, as its superuser, on the first start of an empty volume: creates the
# finsent database, its owner role (migrations) and its app role (every other service) with
# deploy/postgres/roles.sql. Names can be overridden (the tests do); passwords come from the
# environment (compose: FINSENT_DB_OWNER_PASSWORD, FINSENT_DB_APP_PASSWORD).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v db="${FINSENT_DB_NAME:-finsent}" \
    -v owner="${FINSENT_DB_OWNER:-finsent_owner}" \
    -v owner_password="${FINSENT_DB_OWNER_PASSWORD:?set FINSENT_DB_OWNER_PASSWORD}" \
    -v app="${FINSENT_DB_APP:-finsent_app}" \
    -v app_password="${FINSENT_DB_APP_PASSWORD:?set FINSENT_DB_APP_PASSWORD}" \
    -f "${FINSENT_ROLES_SQL:-/etc/finsent/roles.sql}"
