# The escalation worker's image (also the `escalations` CLI): docker build -t helpdesk-escalations .
# docker-compose.yml builds it for its worker services; docs/deployment.md explains the stack.
#
# Dependencies come from requirements.lock, which pins every runtime dependency, transitive
# ones included, to an exact version; nothing is resolved at build time. After changing the
# dependencies in pyproject.toml, regenerate it with `make lock` (tests/deploy/test_lock.py
# fails until you do).

# ---- builder: a virtualenv with the locked dependencies and the project wheel ----
FROM python:3.11.16-slim-trixie AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv

# The dependencies first, in their own layer: a code change does not reinstall them.
COPY requirements.lock /src/requirements.lock
RUN /opt/venv/bin/pip install --no-deps --only-binary=:all: -r /src/requirements.lock

COPY . /src
# --no-deps: everything the project needs is installed already, at the locked versions;
# pip check then fails the build if the lock misses a dependency.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels /src \
    && /opt/venv/bin/pip install --no-deps /wheels/*.whl \
    && /opt/venv/bin/pip check

# ---- the image: the virtualenv on a clean base, run as an unprivileged user ----
FROM python:3.11.16-slim-trixie

# A fixed numeric uid, so that Kubernetes' runAsNonRoot can verify it and volumes can be
# prepared for it. /data holds the outbox and the delivery ledger (a volume in compose).
RUN groupadd --system --gid 10001 escalations \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin escalations \
    && mkdir -p /data/outbox \
    && chown -R 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ESCALATIONS_OUTBOX=/data/outbox \
    ESCALATIONS_DELIVERY_LEDGER=/data/deliveries.sqlite3 \
    ESCALATIONS_METRICS_ADDRESS=0.0.0.0:9464

WORKDIR /data
USER 10001:10001

# Prometheus metrics (ESCALATIONS_METRICS_ADDRESS).
EXPOSE 9464

# The worker finishes the activities in flight on SIGTERM (up to 15 s): give it
# `stop_grace_period: 30s` or more (docker-compose.yml does).
STOPSIGNAL SIGTERM
ENTRYPOINT ["escalations"]
CMD ["worker"]
