# syntax=docker/dockerfile:1
# croupier image: multi-stage build, small Debian runtime, non-root, config in /etc/croupier.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
# Cargo reads every workspace member's manifest, so the load tester's sources come too.
COPY loadtest ./loadtest
COPY config ./config
# Cache mounts keep the registry and target dir between builds; the binary is copied out of them.
# Debug info is stripped (93 MB -> 14 MB); symbols stay, so backtraces still name functions.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin croupier \
    && strip --strip-debug target/release/croupier \
    && cp target/release/croupier /usr/local/bin/croupier

FROM debian:bookworm-slim
# The shipped config uses paths relative to the working directory (--config config/default.toml,
# games.dir = "config/games", tables.file = "config/tables.toml", jackpots.file =
# "config/jackpots.toml", data_dir = "data"): /opt/croupier links them to /etc/croupier and
# the data volume, so `croupier audit` and the defaults work unchanged inside the container.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 croupier \
    && useradd --system --uid 10001 --gid croupier --home-dir /var/lib/croupier --shell /usr/sbin/nologin croupier \
    && mkdir -p /etc/croupier /var/lib/croupier /opt/croupier \
    && chown croupier:croupier /var/lib/croupier \
    && ln -s /etc/croupier /opt/croupier/config \
    && ln -s /var/lib/croupier /opt/croupier/data
COPY --from=build /usr/local/bin/croupier /usr/local/bin/croupier
COPY config/default.toml config/tables.toml config/jackpots.toml config/operators.toml config/jurisdictions.toml /etc/croupier/
COPY config/games /etc/croupier/games

WORKDIR /opt/croupier
USER croupier:croupier
VOLUME ["/var/lib/croupier"]
EXPOSE 8080
# Ready = accepting players; 503 while starting or draining, so a draining node turns unhealthy.
# Asked on the admin listener, which is plain HTTP also when the players' listener speaks TLS.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8090/health/ready || exit 1
# The default listen address is loopback: in a container listen on every interface.
# Set CROUPIER_AUTH_SECRET (and CROUPIER_OPERATOR_KEY with demo_mode off) in the environment;
# CROUPIER_TLS_CERT / CROUPIER_TLS_KEY (mounted files) make the players' listener speak TLS.
ENTRYPOINT ["croupier"]
# 8090 is the admin listener (/metrics, /v1/cluster, /v1/admin/*): keep it on a private network.
CMD ["serve", "--config", "/etc/croupier/default.toml", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:8090", "--data-dir", "/var/lib/croupier"]
