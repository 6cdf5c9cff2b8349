# Build: docker build -t nuru .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nuru

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/nuru --create-home nuru
COPY --from=build /src/target/release/nuru /usr/local/bin/nuru
USER nuru
WORKDIR /var/lib/nuru
ENV NURU_LISTEN_ADDR=0.0.0.0:8080 \
    NURU_DATABASE_URL=sqlite:///var/lib/nuru/nuru.db \
    NURU_SECRET_KEY_FILE=/var/lib/nuru/nuru.key \
    NURU_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["nuru", "healthcheck"]
ENTRYPOINT ["nuru"]
CMD ["serve"]
