# Build: docker build -t nuru .
# Two stages: the toolchain builds a stripped binary; the image that runs is
# Debian slim with CA certificates and time zones, the binary, and a non-root
# user. About 120 MB uncompressed (debian:bookworm-slim ~75 MB, CA
# certificates and tzdata ~10 MB, nuru ~35 MB stripped).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nuru && strip target/release/nuru

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/nuru --create-home nuru
COPY --from=build /src/target/release/nuru /usr/local/bin/nuru
USER nuru
WORKDIR /var/lib/nuru
ENV NURU_LISTEN_ADDR=0.0.0.0:8080 \
    NURU_DATABASE_URL=sqlite:///var/lib/nuru/nuru.db \
    NURU_SECRET_KEY_FILE=/var/lib/nuru/nuru.key \
    NURU_LOG_FORMAT=json
EXPOSE 8080
# Ready = the database answers and carries every migration of this version.
HEALTHCHECK --interval=30s --timeout=5s CMD ["nuru", "healthcheck"]
# SIGTERM (docker stop): stop accepting, finish what is in hand, exit within 5 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["nuru"]
CMD ["serve"]
