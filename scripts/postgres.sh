#!/usr/bin/env bash
# Makes sure a PostgreSQL answers for the integration tests' second run
# (scripts/test.sh) and prints its admin URL. Idempotent:
# - WENSI_TEST_PG_URL set: that server is used as it is;
# - otherwise the one at 127.0.0.1:5432 when the test role can log in;
# - otherwise Debian's `postgresql` is installed if missing, its cluster
#   started (created if there is none), and the role `wensi_test` made.
# The role's password is for tests on this machine only.
set -euo pipefail
# Only the URL goes to stdout (the caller captures it): everything the tools
# below print (apt-get, pg_ctlcluster's "Removed stale pid file.") goes to
# stderr. CI failed once on a captured pg_ctlcluster line.
exec 3>&1 1>&2

URL="${WENSI_TEST_PG_URL:-postgres://wensi_test:wensi-test-only@127.0.0.1:5432/postgres}"
say() { printf '\n==> %s\n' "$*" >&2; }
answers() { psql "$URL" -Atqc 'SELECT 1' >/dev/null 2>&1; }

if [ -n "${WENSI_TEST_PG_URL:-}" ] || answers; then
  answers || { echo "PostgreSQL at WENSI_TEST_PG_URL does not answer" >&2; exit 1; }
  echo "$URL" >&3
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing PostgreSQL (Debian) for the tests on the second engine"
  $SUDO apt-get install -y postgresql || { $SUDO apt-get update && $SUDO apt-get install -y postgresql; }
fi

VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION main"; then
  say "creating the PostgreSQL $VERSION cluster"
  $SUDO pg_createcluster "$VERSION" main
fi
if ! pg_lsclusters -h | awk '$1 == "'"$VERSION"'" && $2 == "main" {print $4}' | grep -qx online; then
  say "starting PostgreSQL $VERSION"
  $SUDO pg_ctlcluster "$VERSION" main start 3>&-  # the server must not keep the captured stdout open
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
say "making the test role wensi_test"
as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wensi_test') THEN
    CREATE ROLE wensi_test LOGIN CREATEDB PASSWORD 'wensi-test-only';
  END IF;
END
$$;
SQL
answers || { echo "the test role cannot log in to 127.0.0.1:5432 (check pg_hba.conf)" >&2; exit 1; }
echo "$URL" >&3
