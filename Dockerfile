# The mediasrv image: API server and workers (the command chooses which).
FROM python:3.11-slim-bookworm
# fonts-noto-cjk: the Chinese font of captions burned into set-top box pictures (media.plan.FONTS_DIR).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY mediasrv mediasrv
COPY workers workers
# The pages' third-party scripts (pinned, verified) must be in place before the install copies them.
# /data/index too: a new named volume mounted there (docker-compose.yml) takes the owner of the
# image's directory, and a mount point missing from the image would be root's, unwritable.
RUN python -m mediasrv.web.vendor \
    && pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --home /app mediasrv \
    && mkdir -p /data/index && chown -R mediasrv /data
USER mediasrv
ENV MEDIASRV_DATA_DIR=/data
EXPOSE 8000
CMD ["mediasrv", "serve", "--host", "0.0.0.0"]
