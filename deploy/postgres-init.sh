#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory: creates the
# database roles of bizrelay's two paths with the passwords from the environment. bizrelayd's
# migrations then grant each role its own schemas only.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v hosting_pw="$HOSTING_DB_PASSWORD" -v personal_pw="$PERSONAL_DB_PASSWORD" <<'SQL'
CREATE ROLE bizrelay_hosting LOGIN PASSWORD :'hosting_pw';
CREATE ROLE bizrelay_personal LOGIN PASSWORD :'personal_pw';
SQL
