# syntax=docker/dockerfile:1
#
# One image for every Kiln service: `kiln serve <service>` picks the service at run time.
#
#   docker build -t kiln:local .
#   docker run --rm kiln:local --help
#
# Stages:
#   recipe   - reduces the workspace to its manifests plus stub target files
#   builder  - builds every dependency from the recipe (cached until Cargo.toml/Cargo.lock
#              change), then copies the real sources and builds target/release/kiln
#   dashboard - builds the React dashboard (frontend/dist) with Node 20
#   runtime  - debian slim with git, node/npm, curl, bubblewrap; runs as user `kiln`

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------
# dashboard: the API serves these static assets at `/` (KILN_API__DASHBOARD_DIR).
# ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS dashboard
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./
RUN npm run build

# ---------------------------------------------------------------------------------------
# recipe: manifests + stubs. This stage re-runs on any source change, but its output only
# changes when a manifest or the target layout changes, so the dependency layer in
# `builder` stays cached across ordinary code edits.
# ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS recipe
WORKDIR /src
COPY . .
# `cargo metadata --no-deps` lists every workspace member (crates/*, tests) with the source
# file of each of its targets (lib, bin, build script, tests, benches, examples). Every one of
# those becomes a stub so that cargo can load the workspace and build only the dependencies.
RUN set -eu; \
    mkdir -p /recipe; \
    cp Cargo.toml Cargo.lock /recipe/; \
    for f in rust-toolchain rust-toolchain.toml .cargo/config.toml .cargo/config; do \
        if [ -e "$f" ]; then mkdir -p "/recipe/$(dirname "$f")"; cp "$f" "/recipe/$f"; fi; \
    done; \
    cargo metadata --no-deps --format-version 1 --offline > /tmp/metadata.json; \
    grep -o '"manifest_path":"[^"]*"' /tmp/metadata.json | cut -d'"' -f4 | sort -u > /tmp/manifests; \
    grep -o '"src_path":"[^"]*"' /tmp/metadata.json | cut -d'"' -f4 | sort -u > /tmp/targets; \
    while read -r path; do \
        rel="${path#/src/}"; mkdir -p "/recipe/$(dirname "$rel")"; cp "$path" "/recipe/$rel"; \
    done < /tmp/manifests; \
    while read -r path; do \
        rel="${path#/src/}"; mkdir -p "/recipe/$(dirname "$rel")"; \
        printf '#![allow(dead_code)]\nfn main() {}\n' > "/recipe/$rel"; \
    done < /tmp/targets; \
    echo "recipe: $(wc -l < /tmp/manifests) manifests, $(wc -l < /tmp/targets) stub targets"

# ---------------------------------------------------------------------------------------
# builder
# ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# 1. Dependencies only (the stubs compile to nothing). Cached until a manifest changes.
COPY --from=recipe /recipe/ ./
RUN cargo build --release --locked -p kiln

# 2. The real workspace (members are crates/* and tests; add any new top-level source
#    directory here). proto/ is compiled by crates/kiln-contracts/build.rs with protox
#    (pure Rust, no protoc); migrations/ is embedded at compile time by sqlx::migrate!.
COPY proto ./proto
COPY migrations ./migrations
COPY crates ./crates
COPY tests ./tests
# The stubs were written after the real files' recorded mtimes, so touch the real sources to
# make cargo rebuild the workspace crates (dependencies stay fresh).
RUN find crates tests -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p kiln

# ---------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG KILN_UID=10001
ARG KILN_GID=10001

# git: repositories and workspaces; nodejs/npm: the tester and the deployer run generated
# Node apps; curl: healthchecks; ca-certificates: TLS (npm registry, OTLP, managed Postgres);
# bubblewrap: the sandbox for generated code (needs user namespaces in the container; see
# docker-compose.yml).
# The system git identity is only a fallback for commits made in the container.
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        bubblewrap \
        ca-certificates \
        curl \
        git \
        nodejs \
        npm \
    ; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid "${KILN_GID}" kiln; \
    useradd --system --uid "${KILN_UID}" --gid kiln --home-dir /home/kiln --create-home \
        --shell /usr/sbin/nologin kiln; \
    install -d -o kiln -g kiln -m 0750 /data; \
    git config --system user.name "Kiln"; \
    git config --system user.email "kiln@localhost"; \
    git config --system init.defaultBranch main

COPY --from=builder /src/target/release/kiln /usr/local/bin/kiln
COPY --from=dashboard /frontend/dist /usr/share/kiln/dashboard

# In-container defaults (listen on all interfaces, data on the /data volume, JSON logs).
# Everything else comes from KILN_* variables set by compose / the k8s ConfigMap.
ENV KILN_RUNTIME__DATA_DIR=/data \
    KILN_RUNTIME__HTTP=0.0.0.0:9090 \
    KILN_RUNTIME__LOG_FORMAT=json \
    KILN_API__HTTP=0.0.0.0:8080 \
    KILN_API__DASHBOARD_DIR=/usr/share/kiln/dashboard \
    KILN_DEPLOYER__HTTP=0.0.0.0:8081 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

USER kiln
WORKDIR /data

# 8080 api, 8081 deployer app proxy, 9090 health + metrics of every non-api service.
EXPOSE 8080 8081 9090

# Non-api services answer on 9090; the api only listens on 8080, so fall back to it
# (compose overrides the check for the api anyway).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:9090/health \
     || curl -fsS -o /dev/null http://127.0.0.1:8080/health \
     || exit 1

ENTRYPOINT ["kiln"]
CMD ["serve", "api"]
