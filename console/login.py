"""The login flow as a sans-I/O state machine: results of the checks in, the next phase and
what to tell the user out. The web layer verifies passwords and codes and keeps the flow of
a half-done login in Redis (`PendingLogins`) between the two steps."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from enum import Enum
from typing import cast

from redis.asyncio import Redis

from console.accounts import Enrolment


class Phase(Enum):
    PASSWORD = "password"  # step one: user name and password
    SECOND_FACTOR = "second_factor"  # step two: TOTP or recovery code
    ENROL = "enrol"  # step two for a user without a key: scan the QR code, confirm a code
    DONE = "done"  # a session may be created


class Notice(Enum):
    """What the user is told; German text in `text`."""

    NONE = ""
    WRONG = "Benutzername oder Passwort ist falsch."
    LOCKED = (
        "Zu viele Fehlversuche. Die Anmeldung von diesem Gerät ist vorübergehend gesperrt; "
        "bitte versuchen Sie es später erneut."
    )
    WRONG_CODE = "Der Sicherheitscode ist falsch oder schon verwendet. Bitte erneut eingeben."
    RESTART = "Zu viele falsche Sicherheitscodes. Bitte melden Sie sich erneut an."

    @property
    def text(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class LoginFlow:
    phase: Phase = Phase.PASSWORD
    user: str = ""
    code_failures: int = 0
    max_code_failures: int = 5

    def password_checked(
        self, user: str, *, ok: bool, locked: bool, enrolled: bool, second_factor: bool
    ) -> tuple[LoginFlow, Notice]:
        """After step one. `locked`: the throttle refused the attempt before checking."""
        if self.phase is not Phase.PASSWORD:
            raise ValueError(f"no password expected in phase {self.phase.name}")
        if locked:
            return LoginFlow(max_code_failures=self.max_code_failures), Notice.LOCKED
        if not ok:
            return LoginFlow(max_code_failures=self.max_code_failures), Notice.WRONG
        if not second_factor:
            return replace(self, phase=Phase.DONE, user=user), Notice.NONE
        phase = Phase.SECOND_FACTOR if enrolled else Phase.ENROL
        return replace(self, phase=phase, user=user), Notice.NONE

    def code_checked(self, *, ok: bool) -> tuple[LoginFlow, Notice]:
        """After step two (a TOTP or recovery code, or the first code of an enrolment)."""
        if self.phase not in (Phase.SECOND_FACTOR, Phase.ENROL):
            raise ValueError(f"no code expected in phase {self.phase.name}")
        if ok:
            return replace(self, phase=Phase.DONE), Notice.NONE
        failures = self.code_failures + 1
        if failures >= self.max_code_failures:
            return LoginFlow(max_code_failures=self.max_code_failures), Notice.RESTART
        return replace(self, code_failures=failures), Notice.WRONG_CODE


def _key(token: str) -> str:
    return f"rb:console:login:{token}"


class PendingLogins:
    """Half-done logins (after the password, before the code), for `ttl_s` at most."""

    def __init__(self, redis: Redis, *, ttl_s: int = 300) -> None:
        if not 30 <= ttl_s <= 3600:
            raise ValueError("ttl_s 30..3600")
        self._redis = redis
        self._ttl_s = ttl_s

    async def save(self, flow: LoginFlow, enrolment: Enrolment | None, token: str = "") -> str:
        token = token or secrets.token_urlsafe(24)
        fields = {
            "phase": flow.phase.value,
            "user": flow.user,
            "code_failures": str(flow.code_failures),
        }
        if enrolment is not None:
            fields["enrolment"] = json.dumps(
                [enrolment.secret, enrolment.uri, list(enrolment.recovery_codes)]
            )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_key(token))
            pipe.hset(_key(token), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(_key(token), self._ttl_s)
            await pipe.execute()
        return token

    async def load(self, token: str | None) -> tuple[LoginFlow, Enrolment | None] | None:
        if not token or len(token) > 64:
            return None
        fields = cast(dict[str, str], await self._redis.hgetall(_key(token)))
        if not fields:
            return None
        flow = LoginFlow(Phase(fields["phase"]), fields["user"], int(fields["code_failures"]))
        enrolment = None
        if "enrolment" in fields:
            secret, uri, codes = json.loads(fields["enrolment"])
            enrolment = Enrolment(secret, uri, tuple(codes))
        return flow, enrolment

    async def drop(self, token: str) -> None:
        await self._redis.delete(_key(token))
