#!/usr/bin/env bash
# Installs what Kiln needs on a Debian/Ubuntu machine with Rust, when it is missing, and
# makes sure NATS JetStream and Postgres answer for the tests. Sourced by up.sh and test.sh.
# Idempotent: a machine that has everything is left untouched.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v curl >/dev/null || need_apt+=(curl ca-certificates)
command -v nats-server >/dev/null || need_apt+=(nats-server)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# Generated code only ever runs inside bubblewrap (see [sandbox] in the README).
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql postgresql-contrib)
fi
command -v psql >/dev/null || need_apt+=(postgresql-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust first (https://rustup.rs)" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The dashboard (frontend/) builds with Vite, which needs Node.js 20.19 or newer.
node_ok() {
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)?0:1)'
}
if ! node_ok; then
  # Debian's nodejs is older; the npm registry ships Node builds as packages (node@22).
  log "Node.js $(node --version) is too old for the dashboard; installing Node.js 22 from the npm registry"
  $SUDO npm install -g --no-audit --no-fund node@22 >/dev/null
  hash -r
fi
if ! node_ok; then
  echo "the dashboard needs Node.js 20.19+ or 22.12+ (found $(node --version) at $(command -v node)); install a newer one and run this again" >&2
  exit 1
fi

# The dashboard's packages, installed exactly from the lockfile when missing or stale.
ensure_frontend_deps() {
  if [ ! -f frontend/node_modules/.package-lock.json ] ||
    [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
    log "installing the dashboard's packages (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund)
  fi
}
ensure_frontend_deps

# Debian's Chromium for the dashboard's browser tests (driven by playwright-core, which never
# downloads a browser). Only test.sh calls this.
ensure_chromium() {
  if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then return; fi
  log "installing chromium (browser tests)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
}

# Toolchains of the stack templates the tests build for real (PHP; Python venvs) and the
# SSH deploy target's test peers (a real sshd and nginx on loopback). Only test.sh calls this;
# templates whose toolchain is absent are reported unavailable, never faked.
ensure_test_toolchains() {
  local need=()
  command -v php >/dev/null || need+=(php-cli)
  if command -v php >/dev/null; then
    php -m 2>/dev/null | grep -qi '^pdo_mysql$' || need+=(php-mysql)
    php -m 2>/dev/null | grep -qi '^pdo_sqlite$' || need+=(php-sqlite3)
  else
    need+=(php-mysql php-sqlite3)
  fi
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh >/dev/null || need+=(openssh-client)
  [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} (template toolchains, ssh target test peers)"
    $SUDO apt-get update -qq
    # nginx's package starts a default server on :80; the tests run their own on loopback.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# Schemathesis (PyPI) in its own venv under ~/.cache: the API tests fuzz the live API with it
# against its OpenAPI document, once per role. KILN_SCHEMATHESIS tells the test where it is.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  local venv="${HOME}/.cache/kiln/tools/schemathesis"
  if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  export KILN_SCHEMATHESIS="$venv/bin/st"
}

# MariaDB on 3306 for per-app MySQL databases (the php template); KILN_TEST_MYSQL_URL points
# elsewhere.
ensure_mariadb() {
  if [ -n "${KILN_TEST_MYSQL_URL:-}" ] || answers 3306; then return; fi
  if ! command -v mariadbd >/dev/null && ! [ -x /usr/sbin/mariadbd ]; then
    log "installing mariadb-server"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null
  fi
  if ! answers 3306; then
    log "starting mariadb"
    $SUDO service mariadb start >/dev/null 2>&1 ||
      $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 50); do answers 3306 && return; sleep 0.2; done
    echo "mariadb did not start on 127.0.0.1:3306" >&2; exit 1
  fi
}

# NATS with JetStream on 4222 (the tests' default; KILN_TEST_NATS_URL points elsewhere).
# It has no users: it is for tests on this machine only, never for deployed apps. The
# permission tests (crates/kiln-runtime/tests/nats_permissions.rs, crates/kiln/tests/
# up_lockdown.rs) start their own nats-server from this binary with per-service users.
ensure_nats() {
  if ! command -v nats-server >/dev/null && ! [ -x /usr/sbin/nats-server ]; then
    log "installing nats-server"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
  fi
  if [ -n "${KILN_TEST_NATS_URL:-}" ] || answers 4222; then return; fi
  local dir="${XDG_STATE_HOME:-$HOME/.local/state}/kiln/nats"
  mkdir -p "$dir"
  log "starting nats-server -js on 127.0.0.1:4222 (store $dir)"
  nohup nats-server -js -a 127.0.0.1 -p 4222 -sd "$dir" >"$dir/nats.log" 2>&1 &
  for _ in $(seq 50); do answers 4222 && return; sleep 0.2; done
  echo "nats-server did not start; see $dir/nats.log" >&2; exit 1
}

# Postgres on 5432 with a role the tests can use (KILN_TEST_DATABASE_URL points elsewhere).
ensure_postgres() {
  if [ -n "${KILN_TEST_DATABASE_URL:-}" ]; then return; fi
  if ! answers 5432; then
    log "starting postgres"
    if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
      local ver; ver=$(ls /etc/postgresql | sort -V | tail -n1)
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO service postgresql start
    else
      $SUDO service postgresql start
    fi
    for _ in $(seq 50); do answers 5432 && break; sleep 0.2; done
  fi
  if psql "postgres://postgres@127.0.0.1:5432/postgres" -Atc 'select 1' >/dev/null 2>&1; then
    export KILN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    # Debian's default pg_hba wants a password over TCP: give the postgres role a local one.
    log "setting a local password for the postgres role (TCP logins need one here)"
    $SUDO -u postgres psql -qc "ALTER USER postgres PASSWORD 'kiln-local'" >/dev/null
    export KILN_TEST_DATABASE_URL="postgres://postgres:kiln-local@127.0.0.1:5432/postgres"
  fi
}
