"""Fakes for unit tests, one per Protocol. Integration tests use the real services."""

from __future__ import annotations

from collections.abc import Callable

from dialogue.messages import Channel, EngineAnswer
from dialogue.rasa import EngineUnavailable

Script = Callable[[str, Channel, str], EngineAnswer]


class FakeEngine:
    """A dialogue engine answering from a script; `down = True` makes it unavailable."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.down = False
        self.received: list[tuple[str, Channel, str]] = []

    async def send(self, session_id: str, channel: Channel, text: str) -> EngineAnswer:
        if self.down:
            raise EngineUnavailable("fake engine is down")
        self.received.append((session_id, channel, text))
        return self._script(session_id, channel, text)

    async def aclose(self) -> None:
        pass
