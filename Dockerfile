# The gateway image: the package and the native libraries its QR decoding needs.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzbar0 curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/epu
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY fhir_profiles ./fhir_profiles
RUN pip install --no-cache-dir -c constraints.txt .
RUN useradd --system --home /srv/epu epu && mkdir -p /data && chown epu /data
USER epu
ENV EPU_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["epu", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
