"""Rasa's check of every action server response, with its JSON schema compiled once.

Rasa 3.6 validates each response of the action server with ``jsonschema.validate``, which
first validates the (constant) schema itself against the draft 2020-12 meta-schema. That
meta-check took about three quarters of a chat turn's time in the Rasa server (a profile
of 60 turns: 12.1 s of 16.5 s, about 120 ms per custom action). `install()` replaces the
check with one validator built once, for the same schema and the same draft: a response
that Rasa's own check refuses is refused with the same error and message.

Installed when Rasa imports the input channels of credentials.yml (intents/connectors.py),
so every `rasa run` of this project has it.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_INSTALLED = "_rathausbot_compiled_check"


@functools.cache
def response_validator() -> Any:
    """The validator of Rasa's action response schema; the schema is checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the compiled validator."""
    error = exceptions.best_match(response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    """Replaces Rasa's per-response schema check (idempotent)."""
    if getattr(RemoteAction, _INSTALLED, False):
        return
    RemoteAction._validate_action_result = validate_action_result
    setattr(RemoteAction, _INSTALLED, True)
