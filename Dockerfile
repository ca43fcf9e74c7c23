# Build stage: the release binary, with dependencies fetched from crates.io.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked && strip target/release/tributary

# Final stage: the binary, CA certificates for HTTPS sources, a non-root user.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --home-dir /data tributary \
 && mkdir -p /data \
 && chown tributary /data
COPY --from=build /src/target/release/tributary /usr/local/bin/tributary
COPY config.yaml /config/config.yaml
COPY seeds /config/seeds
# Mount your own config over /config/config.yaml (its seeds.dir resolves next to it).
ENV TRIBUTARY_CONFIG=/config/config.yaml \
    TRIBUTARY_LISTEN=0.0.0.0:8080 \
    TRIBUTARY_DATA=/data/tributary.db
USER 10001
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["tributary"]
CMD ["serve"]
