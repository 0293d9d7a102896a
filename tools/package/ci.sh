#!/usr/bin/env bash
# CI for the service unit and the Debian package (called by .ci/run):
#  1. tools/package's own module: vet and tests.
#  2. systemd-analyze verify of deploy/idsync.service, with ExecStart
#     pointing at a freshly built idsync (a temp copy of the unit with only
#     that path rewritten): any message, warnings included, fails; and
#     systemd-analyze security --offline must rate its exposure at most 2.0 (--threshold counts tenths).
#  3. Where dpkg exists and we are root: build the .deb, install it with
#     dpkg -i, run /usr/bin/idsync version (it must name this commit),
#     verify the installed unit at its real path, check the config is a
#     conffile whose local edits survive a reinstall, then dpkg --purge and
#     check that every file is gone.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "--- tools/package: vet, test"
go -C tools/package vet ./...
go -C tools/package test ./...

if ! command -v systemd-analyze >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq systemd >/dev/null || { apt-get update -qq && apt-get install -y -qq systemd >/dev/null; }
fi
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: cannot verify deploy/idsync.service" >&2
  exit 1
fi

# verify UNIT: systemd-analyze verify must print nothing at all.
verify() {
  local out
  if ! out=$(systemd-analyze verify "$1" 2>&1) || [ -n "$out" ]; then
    echo "systemd-analyze verify $1:"; echo "$out"; exit 1
  fi
}

echo "--- deploy/idsync.service: systemd-analyze verify, security"
go build -o "$tmp/bin/idsync" ./cmd/idsync
grep -q '^ExecStart=/usr/bin/idsync ' deploy/idsync.service
sed "s#^ExecStart=/usr/bin/idsync #ExecStart=$tmp/bin/idsync #" deploy/idsync.service > "$tmp/idsync.service"
verify "$tmp/idsync.service"
systemd-analyze security --offline=yes --threshold=20 "$tmp/idsync.service" | tail -1

if ! command -v dpkg >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "--- skipping the .deb install test: it needs dpkg and root"
  exit 0
fi
echo "--- .deb: build, install, run, reinstall over an edited config, purge"
deb=$(go -C tools/package run . -o "$tmp/dist")
conffiles=$(dpkg-deb -f "$deb" Package >/dev/null && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
[ "$conffiles" = "/etc/idsync/idsync.yaml" ] || { echo "conffiles: $conffiles"; exit 1; }
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge idsync >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
version=$(/usr/bin/idsync version)
echo "$version"
grep -q "^commit $(git rev-parse HEAD)" <<<"$version" || { echo "idsync version does not name commit $(git rev-parse HEAD)"; exit 1; }
verify /lib/systemd/system/idsync.service
echo "# edited by the operator" >> /etc/idsync/idsync.yaml
dpkg -i "$deb" >/dev/null
grep -q "^# edited by the operator" /etc/idsync/idsync.yaml || { echo "reinstalling overwrote the edited /etc/idsync/idsync.yaml"; exit 1; }
dpkg --purge idsync >/dev/null
for f in /usr/bin/idsync /lib/systemd/system/idsync.service /etc/idsync/idsync.yaml; do
  [ ! -e "$f" ] || { echo "$f is left after dpkg --purge"; exit 1; }
done
echo "package test: ok"
