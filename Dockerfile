# Databahn server image (scale-out: PostgreSQL + S3; several of these behind a reverse proxy).
# Build:  docker build -t databahn .
# Run:    docker run -e DATABAHN_DATABASE_URL=postgresql://... -e DATABAHN_STORAGE_URL=s3://... \
#                    -e DATABAHN_BASE_URL=https://data.example.org -e DATABAHN_SECRET_KEY=... -p 8000:8000 databahn
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATABAHN_HOME=/var/lib/databahn
# pango for PDF documents (WeasyPrint), nothing else from the OS
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/databahn --create-home databahn

WORKDIR /opt/databahn
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-cache-dir '.[postgres,s3,pdf]'

USER databahn
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health')"
CMD ["databahn", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
