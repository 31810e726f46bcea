#!/bin/sh
# What `npm test` needs beyond the npm packages (run by `npm test` as its pretest, and by .ci/run).
# Checks only, in milliseconds, when everything is there. Otherwise, as root on Debian or Ubuntu,
# installs what is missing; elsewhere prints one line per missing package with the command that
# installs it, and fails.
set -eu
cd "$(dirname "$0")/.."

distro=$( (. /etc/os-release 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}") || true)
is_root() { [ "$(id -u)" = 0 ]; }
has_apt() { command -v apt-get >/dev/null 2>&1; }
on_ubuntu() { case " $distro " in *" ubuntu "*) return 0 ;; *) return 1 ;; esac; }

# Ubuntu ships Chromium as a snap only; there the browser playwright-core downloads is used
# (test/support/browser.ts prefers /usr/bin/chromium, Debian's)
playwright_chromium() { node -e "process.exit(require('fs').existsSync(require('playwright-core').chromium.executablePath()) ? 0 : 1)"; }
chromium_ok() { [ -x /usr/bin/chromium ] || playwright_chromium; }

missing=""
note() { missing="$missing $1"; }
# redis-server and redis-cli: the run's Redis and the fault tests' own (test/support/own-servers.ts)
{ command -v redis-server && command -v redis-cli; } >/dev/null 2>&1 || note redis-server
# the Swagger UI and CORS tests drive a headless Chromium (test/support/browser.ts)
chromium_ok || note chromium
# the README walk-through test pastes its curl | jq blocks into bash
command -v jq >/dev/null 2>&1 || note jq
command -v curl >/dev/null 2>&1 || note curl
# npm run test:pgbouncer and test/pgbouncer.e2e-spec.ts start Debian's PgBouncer (1.18 on bookworm)
[ -x "${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}" ] || note pgbouncer
# the walk-through test pastes the README's PostgreSQL block, which creates the database with psql
command -v psql >/dev/null 2>&1 || note postgresql-client
# as root the embedded PostgreSQL runs as the postgres user; from a checkout that user cannot reach
# (inside a 0700 folder such as /root) the setup uses the machine's PostgreSQL server instead
reachable_by_others() {
  dir=$(pwd -P)
  while [ "$dir" != / ]; do
    [ -n "$(find "$dir" -maxdepth 0 -perm -o+x)" ] || return 1
    dir=$(dirname "$dir")
  done
}
if is_root && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! reachable_by_others; then
  note postgresql
fi

[ -z "$missing" ] && exit 0

install_command() {
  if [ "$1" = chromium ] && { on_ubuntu || ! has_apt; }; then
    echo "npx playwright-core install --with-deps chromium"
  elif has_apt; then
    echo "sudo apt-get install -y $1"
  elif [ "$(uname)" = Darwin ]; then
    case "$1" in
      redis-server) echo "brew install redis" ;;
      postgresql-client) echo "brew install libpq && brew link --force libpq" ;;
      chromium) echo "npx playwright-core install chromium" ;;
      *) echo "brew install $1" ;;
    esac
  else
    echo "your system's package manager (the Debian package is $1)"
  fi
}

if [ "${1:-}" != --checked ] && is_root && has_apt; then
  apt=""
  for package in $missing; do
    if [ "$package" = chromium ] && on_ubuntu; then
      npx --no-install playwright-core install --with-deps chromium
    else
      apt="$apt $package"
    fi
  done
  if [ -n "$apt" ]; then
    echo "test-deps: installing$apt with apt-get"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $apt >/dev/null
  fi
  exec "$0" --checked
fi

for package in $missing; do
  echo "test-deps: $package is missing; install it with: $(install_command "$package")" >&2
done
[ "${1:-}" = --checked ] && echo "test-deps: still missing after apt-get:$missing" >&2
exit 1
