# syntax=docker/dockerfile:1
# The serving image: tessera-contracts + tessera-serving with its [compiled] and [http] extras,
# never the lab, optuna or scikit-learn. It runs the HTTP service (`tessera-serve http`).
# Build from the repository root:  docker build -t tessera-serve .
# Run:  docker run --rm -p 8000:8000 -v tessera-state:/var/lib/tessera \
#         -e TESSERA_API_TOKENS_FILE=/run/secrets/tessera-tokens tessera-serve
# Any other command:  docker run --rm -v tessera-state:/var/lib/tessera tessera-serve --help
# No Docker engine runs the tests, so tests/test_boundary_image.py replays this file's COPY and
# `uv sync` steps (same flags, parsed from here) in a scratch directory and checks the boundary.

FROM python:3.11-slim AS build
ENV UV_PROJECT_ENVIRONMENT=/opt/tessera \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
# Third-party dependencies first, from the lock alone: this layer survives source edits.
COPY pyproject.toml uv.lock ./
COPY packages/contracts/pyproject.toml packages/contracts/README.md packages/contracts/
COPY packages/serving/pyproject.toml packages/serving/README.md packages/serving/
RUN uv sync --frozen --no-dev --package tessera-serving --extra compiled --extra http \
        --no-install-workspace
# Then the two distributions themselves, installed as wheels (no lab source in the image).
COPY packages/contracts/src packages/contracts/src
COPY packages/serving/src packages/serving/src
RUN uv sync --frozen --no-dev --package tessera-serving --extra compiled --extra http \
        --no-editable

FROM python:3.11-slim
ENV PATH=/opt/tessera/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OMP_WAIT_POLICY=passive \
    TESSERA_HOME=/var/lib/tessera
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/tessera --create-home \
        --shell /usr/sbin/nologin tessera
COPY --from=build /opt/tessera /opt/tessera
USER tessera
WORKDIR /var/lib/tessera
VOLUME ["/var/lib/tessera"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["tessera-serve"]
CMD ["http", "--host", "0.0.0.0", "--port", "8000"]
