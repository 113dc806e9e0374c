# One image for every service; each Deployment picks its command:
#   python -m services.gateway | services.status | services.enqueue | services.render_worker |
#   services.webhooks, and the migration Job `python -m craftkit.db migrate` (or `craftkit-migrate`).
#
# The base is pinned to an exact Python release. To pin its digest as well (what a release
# build should do), pass it resolved at release time, e.g.
#   docker buildx imagetools inspect python:3.11.14-slim-trixie   # prints "Digest: sha256:…"
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-trixie@sha256:<digest> .
# Every stage uses that base (the venv's interpreter path must be the same in all), and its own
# pip, pinned with it, installs into the venvs (`pip --python`), which get no pip of their own.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

# Dependencies: only requirements.lock is copied, so this layer is rebuilt only when the lock
# changes. Every file is checked against the lock's hashes, wheels only (no sdist build runs code
# that the lock does not pin).
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv --without-pip /opt/venv \
 && pip --python /opt/venv/bin/python install --require-hashes --only-binary=:all: \
        -r /tmp/requirements.lock

# Craftkit itself as a wheel, and the Python SDK the `craftkit` CLI's REST commands use
# (clients/python: its one dependency, httpx, is in the lock), built by the hash-locked setuptools
# of requirements-build.lock.
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements-build.lock /tmp/requirements-build.lock
RUN python -m venv --without-pip /opt/build \
 && pip --python /opt/build/bin/python install --require-hashes --only-binary=:all: \
        -r /tmp/requirements-build.lock
WORKDIR /src
COPY pyproject.toml ./
COPY craftkit craftkit
COPY services services
COPY clients/python clients/python
RUN pip --python /opt/build/bin/python wheel --no-deps --no-build-isolation --wheel-dir /wheels \
        . ./clients/python

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
# The project has not chosen a license yet (pyproject.toml names none): NOASSERTION until it does.
LABEL org.opencontainers.image.title="craftkit" \
      org.opencontainers.image.description="Self-hostable PDF render service: REST v1 gateway, gRPC services, render workers, webhooks" \
      org.opencontainers.image.source="https://github.com/craftkit/craftkit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="NOASSERTION"
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin craftkit
# The dependencies' layer is the deps stage's venv, unchanged while the lock is; the source
# arrives as one small layer on top (the wheel, installed without touching the dependencies).
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    pip --python /opt/venv/bin/python install --no-deps --no-index /wheels/craftkit-*.whl \
        /wheels/craftkit_client-*.whl \
 && /opt/venv/bin/python -m craftkit.layout.cjk
# (the CJK font converted to TrueType outlines once, here: about 40 s, 20 MB, read-only after)
# Nothing is written beside the code at run time (read-only root filesystems): bytecode was
# compiled at install.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
CMD ["python", "-m", "services.gateway"]
