# The gateway: `rathausbot serve` (SIP + RTP, HTTP/WebSocket, voice pipeline, dialogue core).
# Build from the repository root:  docker build -f docker/gateway.Dockerfile -t rathausbot-gateway .
# Rasa and Redis run in their own containers (docker/compose.yml); the gateway reaches them
# through `rasa_urls` and `redis_url` in its configuration file (a compose secret).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin rathausbot

# Dependencies first (pinned in pyproject.toml), so code changes do not reinstall them.
COPY pyproject.toml README.md LICENSE ./
COPY rathausbot/ rathausbot/
COPY dialogue/ dialogue/
COPY channels/ channels/
COPY voice/ voice/
COPY telephony/ telephony/
COPY console/ console/
COPY contract/ contract/
RUN pip install --no-cache-dir . \
    && python -c "import rathausbot.app"

# The Rasa project: domain (closed intent set for the statistics) and the town's knowledge.
COPY intents/ intents/
RUN mkdir -p /app/var && chown rathausbot:rathausbot /app/var

USER 10001
VOLUME ["/app/var"]
# HTTP (chat, console, health), SIP, metrics (loopback only, host networking); RTP 20000-20999/udp
EXPOSE 8080 5060/udp 5060/tcp
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rathausbot"]
CMD ["serve"]
