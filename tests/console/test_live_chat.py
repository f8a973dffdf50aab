"""The live chat routes of the console on the real Redis (Rasa's tracker faked): take over,
answer, hand back, end; one holder, others read-only; role, CSRF and holder checks on the
server; canned replies kept by team leads; availability; the inbox's waiting chats."""

from __future__ import annotations

from redis.asyncio import Redis

from channels.takeover import Takeover
from console.audit import AuditAction, AuditLog
from console.roles import Role
from contract.conversation import Case, CaseStatus, TranscriptRecord
from contract.conversation import Role as LineRole
from contract.records import OPEN_CASES_KEY, Channel, case_key, session_key, transcript_key
from tests.console.conftest import Login, csrf_of
from tests.fakes import FakeTracker

CASE = "C-20261201-K7QX2M"
SID = "s" * 32
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BASE = f"/console/case/{CASE}"
POSTS = ["takeover", "reply", "typing", "handback", "end"]


async def open_chat(redis: Redis, text: str = "Ich möchte jemanden sprechen") -> None:
    case = Case(CASE, SID, Channel.WEBCHAT, "user_request", "buergerbuero", 1_795_000_000.0)
    await redis.hset(case_key(CASE), mapping=case.to_fields())  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {CASE: case.created_at})
    await redis.hset(session_key(SID), mapping={"channel": "webchat", "state": "handoff"})
    line = TranscriptRecord("a" * 32, 1_795_000_000.0, Channel.WEBCHAT, LineRole.USER, text)
    await redis.xadd(transcript_key(SID), line.to_fields())  # type: ignore[arg-type]


async def test_unauthenticated_wrong_role_and_forged_posts_are_refused(
    redis: Redis, login: Login, tracker: FakeTracker
) -> None:
    await open_chat(redis)
    privacy = await login("dana", Role.PRIVACY)
    assert (await privacy.get(f"{BASE}/live")).status_code == 403
    clerk = await login("erika")
    csrf = csrf_of((await clerk.get("/console/inbox")).text)
    for action in POSTS:
        assert (await privacy.post(f"{BASE}/{action}", data={"csrf": csrf})).status_code == 403
        assert (await clerk.post(f"{BASE}/{action}", data={})).status_code == 403, action
        forged = {"origin": "https://evil.example"}
        response = await clerk.post(f"{BASE}/{action}", data={"csrf": csrf}, headers=forged)
        assert response.status_code == 403
    assert tracker.events == {}  # nothing reached Rasa
    bad = await clerk.post("/console/case/C-20261201-AAAAAA/takeover", data={"csrf": csrf})
    assert bad.status_code == 404
    assert (await clerk.post("/console/case/nope/takeover", data={"csrf": csrf})).status_code == 404


async def test_take_over_answer_and_hand_back_with_one_holder(
    redis: Redis, login: Login, tracker: FakeTracker, takeover: Takeover
) -> None:
    await open_chat(redis, XSS)
    erika = await login("erika")
    page = await erika.get(BASE)
    assert ">Gespräch übernehmen</button>" in page.text
    assert 'for="reply">Antwort</label>' not in page.text
    assert XSS not in page.text and "&lt;script&gt;alert(" in page.text
    csrf = csrf_of(page.text)
    taken = await erika.post(f"{BASE}/takeover", data={"csrf": csrf})
    assert taken.status_code == 303
    assert tracker.kinds(SID) == ["pause"]
    page = await erika.get(BASE)
    assert 'for="reply">Antwort</label>' in page.text and ">Senden</button>" in page.text
    assert ">An den Assistenten zurückgeben</button>" in page.text
    assert ">Gespräch beenden</button>" in page.text
    assert "Übernommen von erika" in page.text

    max_ = await login("max")
    max_csrf = csrf_of((await max_.get("/console/inbox")).text)
    refused = await max_.post(
        f"{BASE}/takeover", data={"csrf": max_csrf}, headers={"accept": "application/json"}
    )
    assert refused.status_code == 409 and "erika" in refused.json()["notice"]
    read_only = await max_.get(BASE)
    assert "nur lesend" in read_only.text
    assert 'for="reply">Antwort</label>' not in read_only.text
    assert ">Gespräch übernehmen</button>" not in read_only.text
    sneaky = await max_.post(
        f"{BASE}/reply",
        data={"csrf": max_csrf, "text": "Ich bin nicht dran"},
        headers={"accept": "application/json"},
    )
    assert sneaky.status_code == 409
    assert (await max_.post(f"{BASE}/handback", data={"csrf": max_csrf})).status_code == 303
    assert await takeover.active(SID)  # still erika's

    sent = await erika.post(
        f"{BASE}/reply",
        data={"csrf": csrf, "text": XSS},
        headers={"accept": "application/json"},
    )
    assert sent.status_code == 200 and sent.json() == {"ok": True, "notice": "Gesendet."}
    assert tracker.events[SID][-1]["text"] == XSS
    typing = await erika.post(f"{BASE}/typing", data={"csrf": csrf, "on": "1"})
    assert typing.status_code == 204
    page = await erika.get(BASE)
    assert "Personal (erika)" in page.text and XSS not in page.text
    back = await erika.post(f"{BASE}/handback", data={"csrf": csrf})
    assert back.status_code == 303
    assert tracker.kinds(SID)[-3:] == ["resume", "action", "action"]
    assert not await takeover.active(SID)
    actions = [e.action for e in await AuditLog(redis).entries()]
    assert AuditAction.TAKEOVER in actions and AuditAction.HANDBACK in actions


async def test_ending_the_conversation_closes_the_case(
    redis: Redis, login: Login, tracker: FakeTracker
) -> None:
    await open_chat(redis)
    erika = await login("erika")
    csrf = csrf_of((await erika.get(BASE)).text)
    await erika.post(f"{BASE}/takeover", data={"csrf": csrf})
    ended = await erika.post(f"{BASE}/end", data={"csrf": csrf})
    assert ended.status_code == 303
    assert await redis.hget(case_key(CASE), "status") == CaseStatus.CLOSED.value
    assert await redis.zscore(OPEN_CASES_KEY, CASE) is None
    actions = [e.action for e in await AuditLog(redis).entries()]
    assert AuditAction.CHAT_CLOSED in actions


async def test_a_conversation_that_ended_cannot_be_taken_over(
    redis: Redis, login: Login, tracker: FakeTracker
) -> None:
    await open_chat(redis)
    await redis.delete(session_key(SID))
    erika = await login("erika")
    page = await erika.get(BASE)
    assert "nicht mehr aktiv" in page.text and "Gespräch übernehmen" not in page.text
    refused = await erika.post(
        f"{BASE}/takeover",
        data={"csrf": csrf_of(page.text)},
        headers={"accept": "application/json"},
    )
    assert refused.status_code == 409
    assert tracker.events == {}


async def test_rasa_down_refuses_the_takeover_with_a_notice(
    redis: Redis, login: Login, tracker: FakeTracker, takeover: Takeover
) -> None:
    await open_chat(redis)
    tracker.down = True
    erika = await login("erika")
    csrf = csrf_of((await erika.get(BASE)).text)
    refused = await erika.post(f"{BASE}/takeover", data={"csrf": csrf})
    assert refused.status_code == 303 and "nicht%20erreichbar" in refused.headers["location"]
    assert not await takeover.active(SID)


async def test_team_leads_keep_canned_replies_with_placeholders(redis: Redis, login: Login) -> None:
    await open_chat(redis)
    clerk = await login("erika")
    assert (await clerk.get("/console/textbausteine")).status_code == 403
    lead = await login("lena", Role.TEAM_LEAD)
    page = await lead.get("/console/textbausteine")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    add = {
        "csrf": csrf,
        "abteilung": "buergerbuero",
        "titel": "Gruß",
        "text": "Vorgang {vorgang}, {name} {x}",
    }
    assert (await lead.post("/console/textbausteine", data=add)).status_code == 303
    unknown = {**add, "abteilung": "nirgendwo"}
    assert (await lead.post("/console/textbausteine", data=unknown)).status_code == 400
    assert (await clerk.post("/console/textbausteine", data=add)).status_code == 403
    too_long = {**add, "text": "x" * 1001}
    refused = await lead.post("/console/textbausteine", data=too_long)
    assert "h%C3%B6chstens" in refused.headers["location"]
    await lead.post("/console/textbausteine", data={**add, "text": "x" * 1000, "titel": "Lang"})
    csrf_e = csrf_of((await clerk.get(BASE)).text)
    await clerk.post(f"{BASE}/takeover", data={"csrf": csrf_e})
    page = await clerk.get(BASE)
    assert "Textbausteine" in page.text
    assert f'value="Vorgang {CASE}, erika {{x}}"' in page.text
    listing = await lead.get("/console/textbausteine")
    assert "Gruß" in listing.text and "Lang" in listing.text


async def test_availability_and_the_inbox_shows_waiting_chats(
    redis: Redis, login: Login, takeover: Takeover
) -> None:
    await open_chat(redis)
    erika = await login("erika")
    inbox = await erika.get("/console/inbox")
    assert '<option value="pause" selected>' in inbox.text
    assert "wartet auf eine Person" not in inbox.text
    set_it = await erika.post(
        "/console/verfuegbarkeit", data={"csrf": csrf_of(inbox.text), "status": "verfügbar"}
    )
    assert set_it.status_code == 303
    assert await takeover.staff_available(None)
    bad = await erika.post(
        "/console/verfuegbarkeit", data={"csrf": csrf_of(inbox.text), "status": "weg"}
    )
    assert bad.status_code == 400
    await takeover.wait_for_staff(CASE)
    inbox = await erika.get("/console/inbox")
    assert '<option value="verfügbar" selected>' in inbox.text
    assert "wartet auf eine Person seit" in inbox.text
    rows = await erika.get("/console/inbox/rows")
    assert "wartet auf eine Person seit" in rows.text
    case = await erika.get(BASE)
    assert "wartet seit" in case.text


async def test_marking_a_held_chat_done_ends_the_takeover_first(
    redis: Redis, login: Login, tracker: FakeTracker, takeover: Takeover
) -> None:
    await open_chat(redis)
    erika = await login("erika")
    csrf = csrf_of((await erika.get(BASE)).text)
    await erika.post(f"{BASE}/takeover", data={"csrf": csrf})
    done = await erika.post(f"{BASE}/status", data={"csrf": csrf, "status": "erledigt"})
    assert done.status_code == 303
    assert not await takeover.active(SID)  # the assistant is not left paused
    assert tracker.kinds(SID)[-2:] == ["resume", "action"]
    assert await redis.hget(case_key(CASE), "status") == CaseStatus.CLOSED.value


async def test_a_chat_reassigned_by_a_team_lead_can_be_taken_over_by_its_new_owner(
    redis: Redis, login: Login, takeover: Takeover
) -> None:
    await open_chat(redis)
    erika = await login("erika")
    csrf = csrf_of((await erika.get(BASE)).text)
    await erika.post(f"{BASE}/takeover", data={"csrf": csrf})
    max_ = await login("max")
    assert ">Gespräch übernehmen</button>" not in (await max_.get(BASE)).text
    lead = await login("lena", Role.TEAM_LEAD)
    lead_csrf = csrf_of((await lead.get(BASE)).text)
    await lead.post(f"{BASE}/reassign", data={"csrf": lead_csrf, "user": "max"})
    page = await max_.get(BASE)
    assert ">Gespräch übernehmen</button>" in page.text
    taken = await max_.post(f"{BASE}/takeover", data={"csrf": csrf_of(page.text)})
    assert taken.status_code == 303
    assert (await takeover.holder(SID)).user == "max"  # type: ignore[union-attr]
    refused = await erika.post(
        f"{BASE}/reply",
        data={"csrf": csrf, "text": "Noch da?"},
        headers={"accept": "application/json"},
    )
    assert refused.status_code == 409  # erika is read-only now
