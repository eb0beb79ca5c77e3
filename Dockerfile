# One image for the cart service, the order service and the topic-init job;
# the command picks which. The default is the cart service:
#   docker run order-events-platform:1.0.0                                  # cart
#   docker run order-events-platform:1.0.0 faust -L uvloop -A app.orders worker -l info
#   docker run order-events-platform:1.0.0 python -m app.topic_init --bootstrap-servers …
#
# No `# syntax=` line: the builder's built-in Dockerfile frontend reads this file,
# so a build needs nothing from a registry but the base image and PyPI.
#
# Every dependency ships wheels for linux x86_64 and aarch64 (rocksdict,
# aiokafka, fastavro, pydantic-core …), so no compiler is installed. The one
# exception is faust-streaming 0.15.3, which has an x86_64 wheel only: on
# aarch64 pip builds it from its sdist, and without a compiler its setup.py
# installs the pure-Python version (same behaviour, no Cython speed-ups).
FROM python:3.11.17-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# An unprivileged user with a fixed uid/gid; it owns only the state directory. Not
# --system: 10001 is above the system range, which useradd would warn about.
# --no-log-init: no lastlog/faillog entries (sparse files sized by the uid).
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --no-log-init --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, read from setup.cfg alone: this layer is rebuilt only
# when setup.cfg or pyproject.toml change, not on every change of the source.
#
# Build hosts behind a TLS-intercepting proxy: pass the host's CA bundle as the
# optional build secret `ca_bundle` (compose: ORDER_EVENTS_CA_BUNDLE=<file>, see
# docs/operations.md). pip reads it during these two RUN steps only; nothing of it is
# stored in the image, and without it the build is what it is anywhere else.
COPY setup.cfg pyproject.toml ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'])" > /tmp/requirements.txt \
 && pip install --requirement /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The source (.dockerignore lets in only the packages setup.cfg installs),
# installed without its dependencies: they are in the layer above. A real
# install, not an editable one: the Faust transport is found by its entry point.
COPY . .
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && pip install --no-deps . \
 && rm -rf build ./*.egg-info

# RocksDB table state: <DATA_DIR>/<app id>. Each service mounts its own named volume
# here (docker-compose.yml). No VOLUME instruction: it would give every container
# that mounts nothing there, such as topic-init, an anonymous volume that outlives it.
ENV CART_DATA_DIR=/var/lib/order-events/state \
    ORDERS_DATA_DIR=/var/lib/order-events/state \
    CART_WEB_BIND=0.0.0.0 \
    ORDERS_WEB_BIND=0.0.0.0 \
    HEALTHCHECK_PORT=8000
RUN mkdir -p /var/lib/order-events/state \
 && chown -R app:app /var/lib/order-events

USER 10001:10001

# cart 8000, orders 8001 (CART_WEB_PORT / ORDERS_WEB_PORT)
EXPOSE 8000 8001

# Readiness of whichever service runs (GET /ready: broker and registry answer,
# schemas registered, tables recovered), not mere liveness: "healthy" is what
# `docker compose up --wait` and a user wait for before sending requests, and
# Docker restarts nothing for being unhealthy. HEALTHCHECK_PORT is the web port
# (8000 for the cart, the default; the order service sets 8001). Probed every 2 s
# so that it turns healthy soon after it is; a probe is one short Python process.
# The start period covers waiting for the broker and recovering the tables.
HEALTHCHECK --interval=2s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ['HEALTHCHECK_PORT'], timeout=4)"]

CMD ["faust", "-L", "uvloop", "-A", "app.cart", "worker", "-l", "info"]
