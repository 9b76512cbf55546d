# The demo trainer of docker-compose.yml: curvewatch with the CPU build of torch, training the four
# models on built-in data while serving its Prometheus endpoint on port 9108, once (no restart).
FROM python:3.11-slim

WORKDIR /app
# torch first, pinned, from the CPU index: no resolver ever pulls a CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml setup.py README.md ./
COPY exporter ./exporter
COPY trainers ./trainers
# gcc compiles the recorder's log buffer (setup.py; the image has the Python headers), then goes again.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir ".[trainers,postgres]" \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && python -c "import curvewatch.recorder._clogbuf"

RUN useradd --create-home curvewatch && mkdir -p /data && chown curvewatch /data
USER curvewatch
EXPOSE 9108
CMD ["curvewatch", "train", "--all-models", "--quick", "--addr", "0.0.0.0", "--port", "9108", "--linger", "600", "--root", "/data/saved_models", "--quiet"]
