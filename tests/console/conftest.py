"""The console as an ASGI app on the test Redis, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pyotp
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware

from channels.takeover import Takeover
from console.accounts import Accounts
from console.events import EventHub
from console.mount import console_mount
from console.roles import Role
from console.web import home
from contract.knowledge import knowledge_dir
from dialogue.live import LiveFeed
from dialogue.store import ConversationStore
from rathausbot.headers import SecurityHeaders
from telephony.staff_hours import StaffHours
from tests.fakes import FakeTracker

PASSWORD = "korrekt-pferd-batterie"
BASE = "http://testserver"

Login = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
async def takeover(redis: Redis, tmp_path: Path, tracker: FakeTracker) -> AsyncIterator[Takeover]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield Takeover(redis, store, tracker, LiveFeed(redis), wait_s=5)


@pytest.fixture
async def console_app(redis: Redis, tmp_path: Path, takeover: Takeover) -> AsyncIterator[Starlette]:
    project = tmp_path / "intents"  # the review file of proposed examples goes here
    project.mkdir()
    (project / "domain").symlink_to(knowledge_dir().parent / "domain")
    async with EventHub(redis) as hub:
        mount = console_mount(
            redis,
            hub,
            second_factor=True,
            idle_s=1800,
            absolute_s=36_000,
            max_failures=5,
            lockout_s=900,
            retention_s=30 * 86_400,
            staff_hours=StaffHours.parse("Mo-Fr 08:00-16:00"),
            recordings_dir=tmp_path,
            link_key=b"k" * 32,
            department_names={"buergerbuero": "Bürgerbüro"},
            knowledge=knowledge_dir(),
            takeover=takeover,
            intents_dir=project,
        )
        yield Starlette(routes=[mount], middleware=[Middleware(SecurityHeaders)])


@pytest.fixture
def client_for(console_app: Starlette) -> Callable[[str], httpx.AsyncClient]:
    def make(base: str = BASE) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=console_app, client=("10.1.2.3", 5000)),
            base_url=base,
            headers={"origin": base},
        )

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def password_step(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "username": name, "password": password},
    )


@pytest.fixture
async def login(redis: Redis, client_for: Callable[[str], httpx.AsyncClient]) -> Login:
    accounts = Accounts(redis)

    async def sign_in(name: str, role: Role = Role.CLERK, base: str = BASE) -> httpx.AsyncClient:
        enrolment = await accounts.add(name, PASSWORD, role=role)
        client = client_for(base)
        step_one = await password_step(client, name)
        assert 'for="code">Sicherheitscode' in step_one.text
        done = await client.post(
            "/console/login/code",
            data={"csrf": csrf_of(step_one.text), "code": pyotp.TOTP(enrolment.secret).now()},
        )
        start = home(role)
        assert done.status_code == 303 and done.headers["location"] == start, done.text
        return client

    return sign_in
