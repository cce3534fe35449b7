# syntax=docker/dockerfile:1
# The event store service on its embedded SQLite store, kept in the /data volume, run by a
# non-root user. Point EVENTSTORE_DATABASE_URL at postgresql+asyncpg://... to use PostgreSQL.
# The operator's tool is in the image too: docker exec <container> eventstore --help
# (docs/operations.md, "The container image").

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore lets in only pyproject.toml, README.md and app/.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin eventstore \
    && mkdir /data && chown eventstore:eventstore /data

USER eventstore
# No source tree in the working directory: `eventstore serve` runs the installed package.
WORKDIR /data
VOLUME /data
ENV EVENTSTORE_DATABASE_URL=sqlite:////data/eventstore.db
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('EVENTSTORE_PORT', '8000') + '/healthz', timeout=4)"]

# SIGTERM (docker stop) shuts down gracefully; SIGHUP (docker kill -s HUP) reloads the tokens.
STOPSIGNAL SIGTERM
CMD ["eventstore", "serve", "--host", "0.0.0.0"]
