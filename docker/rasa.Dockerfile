# Rasa server and action server (one image, two commands: `rasa` and `actions`).
# Build from the repository root:  docker build -f docker/rasa.Dockerfile -t rathausbot-rasa .
# The trained model is mounted (docker/compose.yml: ../intents/models; .dockerignore keeps
# it out of the image, so one image serves every model).
FROM rasa/rasa:3.6.21

USER 0
WORKDIR /app
ENV PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    RATHAUSBOT_KNOWLEDGE_DIR=/app/intents/knowledge

# rasa/rasa ships rasa-sdk 3.6 as a dependency of rasa; the custom actions share `contract`.
COPY contract/ contract/
COPY intents/ intents/
COPY docker/rasa/endpoints.yml /app/docker/endpoints.yml
COPY --chmod=0755 docker/rasa/entrypoint.sh /app/docker/entrypoint.sh
RUN python -c "import contract.payloads, intents.actions" \
    && chown -R 1001:0 /app/intents

USER 1001
EXPOSE 5005 5055
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["rasa"]
