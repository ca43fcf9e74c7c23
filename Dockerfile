# The final stage runs no commands, so any glibc base works. debian:bookworm-slim is the
# default; gcr.io/distroless/cc-debian12:nonroot is smaller (no shell, no package manager):
#   docker build --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot -t tributary .
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: the release binary, and the runtime files prepared where a shell exists.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Strip via the environment: Cargo.toml's release profile stays as it is for local builds.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
# Dependencies first, against placeholder sources: this slow layer is reused until
# Cargo.toml, Cargo.lock or the benches change (Cargo reads the manifest's [[bench]] files even
# when it builds none of them).
COPY Cargo.toml Cargo.lock ./
COPY benches benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY migrations migrations
COPY src src
# touch: the copied sources may be older than the placeholder build, and cargo goes by mtime.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked

# The shipped config with its seeds folder moved to /seeds; fails the build if that line
# ever changes shape, or if the result isn't a valid config.
COPY config.yaml /tmp/config.yaml
COPY seeds /seeds
RUN sed 's|^\(  dir: \)"seeds"$|\1"/seeds"|' /tmp/config.yaml > /srv/config.yaml \
 && grep -qx '  dir: "/seeds"' /srv/config.yaml \
 && target/release/tributary --config /srv/config.yaml check \
 && mkdir /srv/data

# ---- runtime
FROM ${RUNTIME_IMAGE}
# Copied, not apt-installed: the CA bundle is all rustls needs, and apt would leave
# its caches and the openssl CLI behind.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Created in the build stage so the final stage needs no shell; owned by the runtime user.
COPY --from=build --chown=10001:10001 /srv/data /data
COPY --from=build /srv/config.yaml /config/config.yaml
COPY seeds /seeds
COPY --from=build /src/target/release/tributary /usr/local/bin/tributary

# Mount a folder at /config (not a single file: editors that save by rename are never seen
# through a file bind mount) and a volume at /data. Environment settings win over config.yaml.
ENV TRIBUTARY_LISTEN=0.0.0.0:8080 \
    TRIBUTARY_DATA=/data/tributary.db \
    TRIBUTARY_CONFIG=/config/config.yaml
# A numeric id needs no /etc/passwd entry; 10001 as in earlier images, so existing /data
# volumes stay writable.
USER 10001:10001
EXPOSE 8080
VOLUME /data
# The binary asks its own /healthz: no curl in the image. Docker-format images only:
# podman builds OCI by default, which drops this (use `podman build --format docker`).
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tributary", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tributary"]
CMD ["serve"]
