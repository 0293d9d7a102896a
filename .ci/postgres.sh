# Sourced by .ci/run (and usable by hand: `source .ci/postgres.sh`): starts a
# throwaway PostgreSQL cluster in a temp dir, listening only on a unix socket
# there, exports IDSYNC_TEST_POSTGRES (a DSN; tests give each test its own
# schema) and IDSYNC_TEST_POSTGRES_REQUIRED=1 (tests fail rather than skip
# when it cannot be reached), and stops and removes the cluster on exit.
# Installs Debian's postgresql when initdb is missing.

pg_bin() {
  local d
  for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/lib/postgresql/*/bin /usr/local/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

if ! PGBIN=$(pg_bin); then
  echo "postgres: initdb not found; installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(pg_bin) || { echo "postgres: initdb still not found after installing postgresql"; exit 1; }
fi

PGTMP=$(mktemp -d /tmp/idsync-pg.XXXXXX)
PGPORT=${PGPORT:-54329}
# PostgreSQL refuses to run as root: the cluster belongs to an unprivileged
# user (postgres if the package made one, else nobody).
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  PGUSER_OS=postgres
  id -u "$PGUSER_OS" >/dev/null 2>&1 || PGUSER_OS=nobody
  chown "$PGUSER_OS" "$PGTMP"
  chmod 0755 "$PGTMP" # the tests (root) reach the socket in it
  as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
fi

pg_stop() {
  as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap pg_stop EXIT

as_pg "$PGBIN/initdb" -D "$PGTMP/data" -U idsync --auth=trust --no-locale -E UTF8 >"$PGTMP/initdb.log" 2>&1 ||
  { cat "$PGTMP/initdb.log"; exit 1; }
# No TCP (listen_addresses=''), a socket in the temp dir, enough connections
# for parallel test packages and several daemons, durability off (throwaway).
as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-c listen_addresses='' -k $PGTMP -p $PGPORT -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || { cat "$PGTMP/server.log"; exit 1; }

export IDSYNC_TEST_POSTGRES="postgres://idsync@/postgres?host=$PGTMP&port=$PGPORT&sslmode=disable"
export IDSYNC_TEST_POSTGRES_REQUIRED=1
echo "postgres: throwaway cluster at $PGTMP (port $PGPORT, unix socket only)"
