# syntax=docker/dockerfile:1.7
# One image for the API (`serve`, the default) and the queue workers (`worker`):
#   docker build -t codehook .
#   docker run -p 8000:8000 codehook                  # API on the embedded default (SQLite)
#   docker run codehook worker                        # RQ worker (needs CODEHOOK_REDIS_URL)
# Sandbox privileges (which layer needs what): docs/operations.md, "Containers".
# tests/deploy/test_image_venv.py repeats these pip commands on the host (no Docker engine there).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# Compilers live only in this stage, for a dependency that ships no wheel for the platform.
# Unpinned on purpose: the base image's Debian release fixes the versions; pins would break the
# build each time a security update replaces the pinned package on the mirror.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY runtime/ runtime/
COPY sandbox/ sandbox/
COPY connectors/ connectors/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# libseccomp2: the sandbox's seccomp filter (without it every execution warns "seccomp unavailable").
# The uids 61000+ that sandbox children switch to need no passwd entry.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libseccomp2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 codehook \
    && useradd --system --uid 10001 --gid codehook --no-create-home \
        --home-dir /var/lib/codehook --shell /usr/sbin/nologin codehook \
    && install -d -o codehook -g root -m 0770 /var/lib/codehook
# The wheels are bind-mounted, not copied: no wheel and no compiler ends up in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/codehook \
    && /opt/codehook/bin/pip install --no-cache-dir --no-index --find-links /wheels codehook
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/codehook-entrypoint
ENV PATH=/opt/codehook/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CODEHOOK_DATA_DIR=/var/lib/codehook \
    CODEHOOK_HOST=0.0.0.0 \
    CODEHOOK_PORT=8000
# SQLite database and generated master key on the embedded default; unused (but harmless) when
# CODEHOOK_DATABASE_URL and CODEHOOK_MASTER_KEY are set.
# Group root, mode 0770: also usable when the container runs as root without CAP_DAC_OVERRIDE.
VOLUME ["/var/lib/codehook"]
# Non-root by default: works with no extra privileges, but sandbox children then keep this uid
# (logged as "sandbox layers unavailable" at start). For per-execution uids run as root with
# only SETUID and SETGID: see compose.yaml and deploy/kubernetes/.
USER 10001:10001
EXPOSE 8000
# For `serve`; a worker container answers it by its process being alive (see the entrypoint).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["codehook-entrypoint", "healthcheck"]
ENTRYPOINT ["codehook-entrypoint"]
CMD ["serve"]
