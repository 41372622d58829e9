# healthsync in a container: the scheduler in the foreground, as an unprivileged user.
#
#   docker build -t healthsync .
#   docker run -d --name healthsync --restart unless-stopped --stop-timeout 300 \
#     -v healthsync-data:/data \
#     -v "$PWD/healthsync.toml:/config/healthsync.toml:ro" \
#     -e HUBSPOT_TOKEN -e ZENDESK_TOKEN \
#     healthsync
#
# - State: the config's `[state] url = "sqlite:////data/healthsync.db"` (four slashes: an absolute
#   path) keeps runs, cursors, health history and the scheduler's jobs on the /data volume. A relative
#   SQLite path would land beside the config, in the read-only /config mount. A PostgreSQL URL works
#   too (build with `--build-arg EXTRAS=[postgres]`).
# - Secrets: never in the image or the config. Reference them in the config as `{ env = "..." }`
#   (pass with `-e`) or `{ file = "/run/secrets/..." }` (Docker/Kubernetes secrets); a container has
#   no OS keyring.
# - Stopping: SIGTERM lets a running sync finish its current batch and record where it stopped; give
#   it time (`--stop-timeout 300`, compose `stop_grace_period: 5m`) rather than Docker's default 10 s.
# - Logs: JSON lines on stderr (`docker logs`); HEALTHSYNC_LOG_LEVEL=debug shows every vendor request.
# - One-off commands use the same image: `docker run --rm ... healthsync status --config /config/healthsync.toml`.

FROM python:3.11-slim

ARG EXTRAS=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A dedicated user with a fixed uid, so a bind-mounted /data can be chown'ed to it (10001:10001).
RUN groupadd --system --gid 10001 healthsync \
    && useradd --system --uid 10001 --gid healthsync --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin healthsync \
    && mkdir -p /data /config \
    && chown healthsync:healthsync /data

# Only what the package needs, so the build context's tests, state files and secrets never enter it
# (see .dockerignore as well).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY healthsync ./healthsync
RUN pip install ".${EXTRAS}" \
    && cd / && rm -rf /src

WORKDIR /data
VOLUME ["/data"]
USER healthsync

# Healthy while the config loads and the state store answers (it reads no vendor, so it spends no
# API quota); a scheduler that died takes the container down with it, and the restart policy acts.
HEALTHCHECK --interval=5m --timeout=30s --start-period=1m --retries=3 \
    CMD ["healthsync", "status", "--json", "--limit", "1", "--config", "/config/healthsync.toml"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["healthsync"]
CMD ["schedule", "run", "--config", "/config/healthsync.toml"]
