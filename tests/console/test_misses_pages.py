"""The "Nicht verstanden" inbox on a real Redis: roles, CSRF, masking, grouping, the
audited actions, and a review file that Rasa accepts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from console.nlu_review import MAX_EXAMPLE_CHARS, ReviewFile, check_example, render
from console.roles import Role
from contract.knowledge import knowledge_dir
from contract.records import Channel
from dialogue.messages import Understanding
from dialogue.misses import MissLog, MissStatus
from tests.console.conftest import Login, csrf_of

PAGE = "/console/nicht-verstanden"
FALLBACK = Understanding("nlu_fallback", 0.31, guess="waste_collection", guess_confidence=0.29)
REPO = Path(__file__).resolve().parents[2]


async def seed(redis: Redis) -> MissLog:
    log = MissLog(redis)
    for session, text in (
        ("a", "Rufen Sie mich an unter 0171 2345678 wegen Sperrmüll abholen"),
        ("b", "Sperrmüll abholen lassen wie"),
        ("c", "Ich heiße Erika Mustermann und will einen Anglerschein"),
    ):
        await log.turn(session, Channel.WEBCHAT, text, FALLBACK, handoff=False)
    return log


async def test_roles_and_csrf(
    redis: Redis, login: Login, client_for: Callable[..., httpx.AsyncClient]
) -> None:
    anonymous = client_for()
    assert (await anonymous.get(PAGE)).status_code == 303
    assert (await anonymous.post(PAGE, data={})).status_code == 401
    for name, role in (("erika", Role.CLERK), ("dana", Role.PRIVACY), ("adm", Role.ADMIN)):
        client = await login(name, role)
        csrf = csrf_of((await client.get("/console/password")).text)
        assert (await client.get(PAGE)).status_code == 403, role
        response = await client.post(
            PAGE, data={"csrf": csrf, "action": "erledigt", "id": "A" * 16}
        )
        assert response.status_code == 403, role
    editor = await login("rita", Role.EDITOR)
    page = await editor.get(PAGE)
    assert page.status_code == 200
    assert (await editor.get("/console/inbox")).status_code == 403
    assert 'href="/console/inbox"' not in page.text
    forged = await editor.post(PAGE, data={"csrf": "nope", "action": "erledigt", "id": "A" * 16})
    assert forged.status_code == 403
    lead = await login("tom", Role.TEAM_LEAD)
    assert (await lead.get(PAGE)).status_code == 200


async def test_messages_appear_masked_grouped_with_the_guess(redis: Redis, login: Login) -> None:
    await seed(redis)
    client = await login("rita", Role.EDITOR)
    html = (await client.get(PAGE)).text
    assert "0171" not in html and "2345678" not in html and "Mustermann" not in html
    assert "Rufen Sie mich an unter #### ####### wegen Sperrmüll abholen" in html
    assert "Ich heiße [Name] und will einen Anglerschein" in html
    assert html.count('<section class="card miss"') == 2
    assert "2 Nachrichten" in html and "1 Nachricht ·" in html
    assert "<code>waste_collection</code> (29 %)" in html
    assert '<option value="waste_collection" selected>' in html


async def test_done_and_not_municipal_are_audited(redis: Redis, login: Login) -> None:
    log = await seed(redis)
    items = await log.items()
    client = await login("tom", Role.TEAM_LEAD)
    csrf = csrf_of((await client.get(PAGE)).text)
    done = await client.post(PAGE, data={"csrf": csrf, "action": "erledigt", "id": [items[0].id]})
    assert (done.status_code, done.headers["location"]) == (303, f"{PAGE}?fertig=ok")
    other = await client.post(
        PAGE, data={"csrf": csrf, "action": "kein_thema", "id": [items[1].id, "../x"]}
    )
    assert other.status_code == 303
    assert [m.id for m in await log.items()] == [items[2].id]
    assert [m.id for m in await log.items(status=MissStatus.DONE)] == [items[0].id]
    assert [m.id for m in await log.items(status=MissStatus.NOT_MUNICIPAL)] == [items[1].id]
    entries = [e for e in await AuditLog(redis).entries() if e.action is AuditAction.MISS_TRIAGE]
    assert sorted((e.actor, e.target, e.detail) for e in entries) == sorted(
        [("tom", items[0].id, "erledigt"), ("tom", items[1].id, "kein_thema")]
    )
    for bad in (
        {"action": "loeschen", "id": items[2].id},
        {"action": "erledigt"},
        {"action": "erledigt", "id": "x"},
    ):
        assert (await client.post(PAGE, data={"csrf": csrf, **bad})).status_code == 400
    assert len(await log.items()) == 1


async def test_an_example_goes_to_the_review_file_only(
    redis: Redis, login: Login, tmp_path: Path
) -> None:
    log = await seed(redis)
    items = await log.items()
    client = await login("rita", Role.EDITOR)
    csrf = csrf_of((await client.get(PAGE)).text)
    review = tmp_path / "intents" / "data" / "review" / "proposed_nlu.yml"
    refused = await client.post(
        PAGE,
        data={
            "csrf": csrf,
            "action": "beispiel",
            "id": items[0].id,
            "intent": "bulky_waste",
            "text": "Ich heiße [Name]",
        },
    )
    assert refused.status_code == 400 and "Platzhalter" in refused.text
    unknown = await client.post(
        PAGE,
        data={
            "csrf": csrf,
            "action": "beispiel",
            "id": items[0].id,
            "intent": "hack",
            "text": "Sperrmüll",
        },
    )
    assert unknown.status_code == 400
    assert not review.exists()
    ids = [m.id for m in items[1:]]
    accepted = await client.post(
        PAGE,
        data={
            "csrf": csrf,
            "action": "beispiel",
            "id": ids,
            "intent": "bulky_waste",
            "text": "  Sperrmüll abholen lassen  ",
        },
    )
    assert (accepted.status_code, accepted.headers["location"]) == (303, f"{PAGE}?fertig=beispiel")
    data = yaml.safe_load(review.read_text())
    assert data == {
        "version": "3.1",
        "nlu": [{"intent": "bulky_waste", "examples": "- Sperrmüll abholen lassen\n"}],
    }
    assert [m.id for m in await log.items()] == [items[0].id]
    entries = [e for e in await AuditLog(redis).entries() if e.action is AuditAction.MISS_TRIAGE]
    assert [(e.target, e.detail) for e in entries] == [(ids[0], "beispiel:bulky_waste")]


def test_review_file_rules(tmp_path: Path) -> None:
    review = ReviewFile(tmp_path, intents=["a_b", "c"])
    assert review.proposals() == {}
    assert review.propose("c", "eins zwei")
    assert not review.propose("c", "eins   zwei")
    assert review.propose("a_b", "drei: vier")
    assert review.proposals() == {"a_b": ["drei: vier"], "c": ["eins zwei"]}
    assert check_example("x" * MAX_EXAMPLE_CHARS) == "x" * MAX_EXAMPLE_CHARS
    for bad in ("", "  ", "x" * (MAX_EXAMPLE_CHARS + 1), "a [b](c)", "Nr. #", "a{b}"):
        with pytest.raises(ValueError):
            check_example(bad)
    assert render({}).endswith("nlu: []\n")
    assert yaml.safe_load(render({"x": []})) == {"version": "3.1", "nlu": []}


@pytest.mark.slow
def test_rasa_accepts_the_review_file_and_training_leaves_it_out(tmp_path: Path) -> None:
    from rathausbot.training import model_hash, training_data

    intents = knowledge_dir().parent
    review = ReviewFile(tmp_path, intents=["bulky_waste", "waste_collection"])
    review.propose("bulky_waste", "Sperrmüll abholen lassen")
    review.propose("waste_collection", "Wann kommt die gelbe Tonne?")
    rasa = REPO / ".venv-rasa" / "bin" / "python"
    result = subprocess.run(
        [
            str(rasa),
            "-m",
            "rasa",
            "data",
            "validate",
            "--domain",
            str(intents / "domain"),
            "--data",
            str(review.path),
            "--config",
            str(intents / "config.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert all(not p.startswith("data/review") for p in training_data(intents))
    before = model_hash(intents)
    shadow = intents / "data" / "review"
    created = not shadow.exists()
    shadow.mkdir(exist_ok=True)
    probe = shadow / "probe_nlu.yml"
    try:
        probe.write_text(render({"greet": ["servus"]}))
        assert model_hash(intents) == before
    finally:
        probe.unlink()
        if created:
            shadow.rmdir()
