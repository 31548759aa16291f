# fairbeta: the API server (fairbeta-api), the worker (fairbeta-worker) and
# the admin tool (fairbeta), in one image; the command picks the process.
#
#   docker build -t fairbeta:local .
#   docker run --rm -e FAIRBETA_DATABASE_URL=... fairbeta:local fairbeta migrate
#   docker run --rm -e FAIRBETA_DATABASE_URL=... -p 8080:8080 fairbeta:local
#
# docker-compose.yml beside this file runs it with PostgreSQL.

# ---- build ------------------------------------------------------------------
FROM debian:bookworm-slim AS build

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential \
        pkg-config \
        libevent-dev \
        libpq-dev \
        libjansson-dev \
        uuid-dev \
        libsodium-dev \
        libcurl4-openssl-dev \
        python3 \
        python3-yaml \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# Drop anything a host build or checkout may have left in the context, so the
# image is always built from source (a .dockerignore would also keep it out
# of the context).
RUN rm -rf build .fairbeta tools/openapi/node_modules \
    && find . -name '*.o' -delete
RUN make -j"$(nproc)" all \
    && make install PREFIX=/usr/local DESTDIR=/out

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# Runtime libraries only; curl is there for container health checks.
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libevent-2.1-7 \
        libevent-pthreads-2.1-7 \
        libpq5 \
        libjansson4 \
        libuuid1 \
        libsodium23 \
        libcurl4 \
        ca-certificates \
        curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 fairbeta \
    && useradd --system --uid 10001 --gid fairbeta \
        --home-dir /var/lib/fairbeta --create-home \
        --shell /usr/sbin/nologin fairbeta

# /out holds usr/local/bin/fairbeta-api, fairbeta-worker, fairbeta and whatever
# else `make install` puts under the prefix (e.g. migrations).
COPY --from=build /out/ /

USER fairbeta
# The state directory defaults to .fairbeta under the working directory,
# which the fairbeta user owns.
WORKDIR /var/lib/fairbeta

# Inside a container the listeners must not be bound to loopback.
ENV FAIRBETA_LISTEN=0.0.0.0:8080 \
    FAIRBETA_METRICS_LISTEN=0.0.0.0:9090 \
    FAIRBETA_LOG_LEVEL=info

EXPOSE 8080 9090
CMD ["fairbeta-api"]
