"""The action server: rasa_sdk's app without CORS, taking calls only from Rasa.

Every path but ``/health`` needs the shared token, which Rasa sends as ``?token=`` (the
``token`` of ``action_endpoint`` in its endpoints file). The token comes from the
environment variable ``RATHAUSBOT_RASA_TOKEN``; without it the server does not start.

Run: ``python -m intents.action_server --port 5055`` (host from ``SANIC_HOST``).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from contract.env import RASA_TOKEN

logger = logging.getLogger(__name__)

TOKEN_ENV = RASA_TOKEN
OPEN_PATHS = frozenset({"/health"})
MIN_TOKEN_CHARS = 16


def authorised(path: str, given: str | None, token: str) -> bool:
    """Whether a call to ``path`` with the query parameter ``token=given`` may pass."""
    if path in OPEN_PATHS:
        return True
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def build_app(token: str, actions: str = "intents.actions") -> Sanic:
    """rasa_sdk's app with no CORS origins and the token check in front of it."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"{TOKEN_ENV} must have at least {MIN_TOKEN_CHARS} characters")
    app = create_app(actions, cors_origins="")

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if authorised(request.path, request.args.get("token"), token):
            return None
        logger.info("action server: a call to %s without the shared token refused", request.path)
        return response.json({"error": "unauthorised"}, status=401)

    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="intents.actions")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if len(token) < MIN_TOKEN_CHARS:
        print(f"{TOKEN_ENV} is not set (or too short): refusing to start", file=sys.stderr)
        return 2
    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    app = build_app(token, args.actions)
    host = os.environ.get("SANIC_HOST", "127.0.0.1")
    logger.info("Action endpoint is up and running on http://%s:%d", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
