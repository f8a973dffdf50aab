#!/bin/sh
# Starts the Rasa server (`rasa`) or the action server (`actions`). Secrets come from files
# (compose secrets under /run/secrets), never from the compose text or the process list.
set -eu
secret() { tr -d '\r\n' < "/run/secrets/$1"; }
RATHAUSBOT_RASA_TOKEN="$(secret rasa_token)"
REDIS_PASSWORD="$(secret redis_password)"
export RATHAUSBOT_RASA_TOKEN REDIS_PASSWORD
: "${REDIS_HOST:=redis}"
export REDIS_HOST
cd /app/intents
case "${1:-rasa}" in
rasa)
    # The launcher reads the token from the environment (not visible in `ps`).
    exec python -c "import os, sys; from rasa.__main__ import main; sys.argv = ['rasa', 'run', '--enable-api', '--interface', '0.0.0.0', '--port', '5005', '--model', '/app/intents/models', '--endpoints', '/app/docker/endpoints.yml', '--credentials', '/app/intents/credentials.yml', '--auth-token=' + os.environ['RATHAUSBOT_RASA_TOKEN']]; main()"
    ;;
actions)
    RATHAUSBOT_ACTIONS_REDIS_URL="redis://:${REDIS_PASSWORD}@${REDIS_HOST}:6379/0"
    export RATHAUSBOT_ACTIONS_REDIS_URL
    export SANIC_HOST=0.0.0.0
    exec python -m intents.action_server --actions intents.actions --port 5055
    ;;
*)
    exec "$@"
    ;;
esac
