# syntax=docker/dockerfile:1
# Oak Maillist image. Default command: "oak-maillist migrate up", then "oak-maillist serve"
# (deploy/docker-entrypoint.sh). Build: docker build -t oak-maillist .

# ---- 1. Web app (Vue 3), built only when frontend/package.json exists ---------------------------
FROM node:20-bookworm-slim AS frontend-source
# Take frontend/ from the context if there is one (a plain COPY would fail without it); the
# build stage below is cached on the content of /out/frontend alone.
RUN --mount=type=bind,source=.,target=/context \
    mkdir -p /out/frontend \
    && if [ -f /context/frontend/package.json ]; then cp -a /context/frontend/. /out/frontend/; fi

FROM node:20-bookworm-slim AS frontend
WORKDIR /build/frontend
COPY --from=frontend-source /out/frontend/ ./
RUN if [ -f package.json ]; then \
        npm ci --no-audit --no-fund && npm run build; \
    else \
        mkdir -p dist; \
    fi

# ---- 2. Python package into a virtual environment ----------------------------------------------
FROM python:3.11-slim-bookworm AS python-build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/pip pip install .

# ---- 3. Runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONFIG_DIR=/app/config \
    RUN_MODE=production
RUN groupadd --system --gid 10001 oak \
    && useradd --system --uid 10001 --gid oak --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin oak
WORKDIR /app
COPY --from=python-build /opt/venv /opt/venv
COPY config /app/config
COPY --from=frontend /build/frontend/dist /app/frontend/dist
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# Relative defaults resolve here: ./data (SQLite), ./storage/archives, ./frontend/dist.
RUN mkdir -p /app/data /app/storage/archives && chown -R oak:oak /app/data /app/storage
USER oak:oak
VOLUME ["/app/data", "/app/storage"]
EXPOSE 3000 2525
# Liveness of the HTTP listener; the image has no curl. Containers that run no HTTP listener
# (worker, scheduler, serve --role smtp) override or disable this, see docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('OAK__SERVER__PORT', '3000'), timeout=4)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["oak-maillist", "serve"]
