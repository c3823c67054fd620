# The import server. docker-compose.yml runs it with PostgreSQL and MinIO; without
# DATABASE_URL / S3_ENDPOINT_URL it starts its embedded PostgreSQL and S3 instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data

# The source tree stays at /app and the package is installed in editable mode:
# server/sql.py finds the SQL files in db/ next to the package (Path(__file__).parent.parent),
# so they must stay beside server/ rather than go to site-packages.
WORKDIR /app

# Dependencies first, in their own layer: only pyproject.toml (and the README it names)
# invalidate it. A stub package lets the editable install succeed before the sources exist.
COPY pyproject.toml README.md ./
RUN mkdir server && touch server/__init__.py \
    && pip install -e . \
    && rm -rf server

COPY . .

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /data \
    && chown app:app /data
USER app

EXPOSE 8000

HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=12 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["python", "-m", "server"]
