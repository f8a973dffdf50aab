"""Staff accounts in Redis: argon2id password hashes, TOTP second factor, recovery codes.

An account is the hash `rb:console:user:{name}`; `rb:console:users` holds the names.
Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes, above OWASP's
minimum) and rehashed at the next login when the parameters change. A TOTP code is accepted
once (the last used time step is kept), recovery codes once each (kept as SHA-256 hashes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from console.roles import Role

USERS_KEY = "rb:console:users"
ISSUER = "rathausbot"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
MAX_DEPARTMENTS = 32
RECOVERY_CODES = 8
TOTP_STEP_S = 30

_HASHER = PasswordHasher()  # argon2id, t=3, m=65536 KiB, p=4
_DUMMY_HASH = _HASHER.hash("no such user: the same work either way")


def user_key(name: str) -> str:
    return f"rb:console:user:{name}"


class AccountError(ValueError):
    """A request about accounts that cannot be done; the text says why (in English)."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    display_name: str
    role: Role
    disabled: bool
    enrolled: bool  # a TOTP key is set
    created_at: float
    departments: tuple[str, ...] = ()  # ids of departments.yml; none: works for all


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new TOTP key and recovery codes, shown to the user once."""

    secret: str
    uri: str  # otpauth://
    recovery_codes: tuple[str, ...]


def _departments(fields: dict[str, str]) -> tuple[str, ...]:
    return tuple(d for d in fields.get("departments", "").split(",") if d)


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountError(
            f"the password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


def new_recovery_codes() -> tuple[str, ...]:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return tuple(codes)


class Accounts:
    """Creates, changes and checks staff accounts. `clock` is injected for TOTP tests."""

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Callable[[], float] = time.time,
        departments: frozenset[str] = frozenset(),
    ) -> None:
        """`departments`: the town's department ids, the only ones an account may get."""
        self._redis = redis
        self._clock = clock
        self._known = departments

    async def get(self, name: str) -> Account | None:
        fields = await self._fields(name)
        if not fields:
            return None
        return Account(
            name=name,
            display_name=fields.get("display_name", name),
            role=Role(fields["role"]),
            disabled=fields.get("disabled") == "1",
            enrolled=bool(fields.get("totp_secret")),
            created_at=float(fields["created_at"]),
            departments=_departments(fields),
        )

    async def departments_of(self, user: str) -> frozenset[str]:
        """The departments `user` works for; empty: all (or no such user)."""
        return frozenset(_departments(await self._fields(user)))

    async def names(self) -> list[str]:
        return sorted(cast(set[str], await self._redis.smembers(USERS_KEY)))

    async def add(
        self,
        name: str,
        password: str,
        *,
        role: Role,
        display_name: str | None = None,
        departments: Iterable[str] = (),
    ) -> Enrolment:
        """A new account, enrolled for TOTP; its key and recovery codes are returned once.
        Raises AccountError for a department that is not the town's."""
        if not NAME_PATTERN.match(name):
            raise AccountError(
                "user names are 2 to 32 characters: lower-case letters, digits, '.', '_', '-'"
            )
        check_password_rules(password)
        assigned = self._checked_departments(departments)
        enrolment = self.new_enrolment(name)
        fields = {
            "name": name,
            "display_name": (display_name or name)[:80],
            "role": role.value,
            "password": _HASHER.hash(password),
            "totp_secret": enrolment.secret,
            "recovery": json.dumps([_code_hash(c) for c in enrolment.recovery_codes]),
            "created_at": repr(self._clock()),
            "departments": ",".join(assigned),
        }
        created = await self._redis.hsetnx(user_key(name), "name", name)
        if not created:
            raise AccountError(f"the user {name!r} exists already")
        await self._redis.hset(user_key(name), mapping=fields)  # type: ignore[arg-type]
        await self._redis.sadd(USERS_KEY, name)
        return enrolment

    def new_enrolment(self, name: str) -> Enrolment:
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)
        return Enrolment(secret, uri, new_recovery_codes())

    async def set_password(self, name: str, password: str) -> None:
        check_password_rules(password)
        await self._require(name)
        await self._redis.hset(user_key(name), "password", _HASHER.hash(password))

    async def set_departments(self, name: str, departments: Iterable[str]) -> tuple[str, ...]:
        """Replaces the user's departments (none: all); returns them as stored."""
        assigned = self._checked_departments(departments)
        await self._require(name)
        await self._redis.hset(user_key(name), "departments", ",".join(assigned))
        return assigned

    def _checked_departments(self, departments: Iterable[str]) -> tuple[str, ...]:
        assigned = tuple(sorted(set(departments)))
        unknown = [d for d in assigned if d not in self._known]
        if unknown:
            known = ", ".join(sorted(self._known)) or "none configured"
            raise AccountError(f"unknown department {unknown[0]!r} (known: {known})")
        if len(assigned) > MAX_DEPARTMENTS:
            raise AccountError(f"at most {MAX_DEPARTMENTS} departments per account")
        return assigned

    async def set_disabled(self, name: str, disabled: bool) -> None:
        await self._require(name)
        await self._redis.hset(user_key(name), "disabled", "1" if disabled else "0")

    async def reset_second_factor(self, name: str) -> None:
        """Forgets the TOTP key and recovery codes: the user enrols again at the next login."""
        await self._require(name)
        await self._redis.hdel(user_key(name), "totp_secret", "recovery", "totp_step")

    async def enrol(self, name: str, enrolment: Enrolment, code: str) -> bool:
        """Stores `enrolment` once `code` proves the user's authenticator has its key."""
        step = self._matching_step(enrolment.secret, code, after=-1)
        if step is None:
            return False
        await self._redis.hset(
            user_key(name),
            mapping={
                "totp_secret": enrolment.secret,
                "totp_step": str(step),
                "recovery": json.dumps([_code_hash(c) for c in enrolment.recovery_codes]),
            },
        )
        return True

    async def check_password(self, name: str, password: str) -> bool:
        """Whether `password` is this enabled user's; costs the same for unknown users."""
        fields = await self._fields(name)
        stored = fields.get("password", _DUMMY_HASH)
        try:
            _HASHER.verify(stored, password[:MAX_PASSWORD_CHARS])
        except (VerificationError, InvalidHashError):
            return False
        if not fields or fields.get("disabled") == "1":
            return False
        if _HASHER.check_needs_rehash(stored):
            await self._redis.hset(user_key(name), "password", _HASHER.hash(password))
        return True

    async def check_second_factor(self, name: str, code: str) -> bool:
        """A TOTP code not used before, or an unused recovery code (used up by this call)."""
        fields = await self._fields(name)
        secret = fields.get("totp_secret")
        if not secret:
            return False
        code = code.strip().replace(" ", "")
        if code.isdigit():
            step = self._matching_step(secret, code, after=int(fields.get("totp_step", "-1")))
            if step is None:
                return False
            await self._redis.hset(user_key(name), "totp_step", str(step))
            return True
        return await self._use_recovery_code(name, code)

    async def _use_recovery_code(self, name: str, code: str) -> bool:
        digest = _code_hash(code)
        key = user_key(name)
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            codes = json.loads(await pipe.hget(key, "recovery") or "[]")
            if digest not in codes:
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return False
            codes.remove(digest)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(key, "recovery", json.dumps(codes))
            await pipe.execute()
        return True

    def _matching_step(self, secret: str, code: str, *, after: int) -> int | None:
        """The time step (now, or one either side) whose code is `code`, if newer than `after`."""
        if not (code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        now = int(self._clock() // TOTP_STEP_S)
        for step in (now - 1, now, now + 1):
            if step > after and hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    async def _fields(self, name: str) -> dict[str, str]:
        if not NAME_PATTERN.match(name):
            return {}
        return cast(dict[str, str], await self._redis.hgetall(user_key(name)))

    async def _require(self, name: str) -> None:
        if not await self._redis.exists(user_key(name)):
            raise AccountError(f"no user {name!r}")
