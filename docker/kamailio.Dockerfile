# Kamailio SIP proxy with the dispatcher module (Debian's package, as in the tests).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends kamailio=5.6.3-2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --no-create-home --shell /usr/sbin/nologin sipproxy
USER 10002
ENTRYPOINT ["kamailio", "-DD", "-E", "-f", "/etc/kamailio/kamailio.cfg"]
