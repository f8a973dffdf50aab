"""Live takeover on the real Redis with a fake Rasa tracker: who holds a chat, what Rasa
records, what the widget's tabs and the case view receive, the waiting list and its timeout,
availability, and the dialogue core passing a held chat's messages to the clerk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from channels.fanout import Fanout
from channels.protocol import (
    BotLine,
    HandoffState,
    HandoffStatus,
    ServerMessage,
    StaffLine,
    Typing,
    parse_server,
)
from channels.takeover import (
    AVAILABLE_KEY,
    GOODBYE_TEXT,
    INBOX_EVENTS_CHANNEL,
    MAX_STAFF_CHARS,
    MAX_WAITING,
    WAITING_KEY,
    WELCOME_BACK_ACTION,
    WELCOME_BACK_TEXT,
    Availability,
    AvailabilityScope,
    Refusal,
    Takeover,
    TakeoverRefused,
)
from channels.webchat import history_lines
from contract.conversation import Case, Marker, TranscriptRecord
from dialogue.core import DialogueCore
from dialogue.handoff_notice import CALLBACK_BUTTON
from dialogue.live import LiveFeed, live_channel
from dialogue.messages import Button, Channel, EngineAnswer, Role, UserTurn
from dialogue.store import ConversationStore
from tests.fakes import FakeClock, FakeEngine, FakeTracker

SID = "s-takeover"
CASE = "C-20261201-ABCDEF"


@dataclass
class World:
    redis: Redis
    store: ConversationStore
    tracker: FakeTracker
    takeover: Takeover
    clock: FakeClock
    tab: asyncio.Queue[ServerMessage]


@pytest.fixture
async def world(redis: Redis) -> AsyncIterator[World]:
    clock = FakeClock(1_800_000_000.0)
    tracker = FakeTracker()
    tab: asyncio.Queue[ServerMessage] = asyncio.Queue()
    async with ConversationStore(redis, retention_s=3600) as store, Fanout(redis) as fanout:
        await fanout.wait_subscribed()
        fanout.register(SID, "tab", lambda frame: tab.put_nowait(parse_server(frame)))
        takeover = Takeover(redis, store, tracker, LiveFeed(redis), wait_s=180, clock=clock)
        yield World(redis, store, tracker, takeover, clock, tab)


async def received(world: World, count: int) -> list[ServerMessage]:
    async with asyncio.timeout(30):  # a safety net, not a speed requirement
        return [await world.tab.get() for _ in range(count)]


async def test_a_takeover_pauses_rasa_and_tells_every_tab_who_answers(world: World) -> None:
    holder = await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    assert (holder.user, holder.name, holder.case_id) == ("erika", "Erika", CASE)
    assert await world.takeover.holder(SID) == holder
    assert await world.takeover.active(SID)
    assert world.tracker.kinds(SID) == ["pause"]
    assert await received(world, 1) == [HandoffStatus(HandoffState.TAKEN, CASE, name="Erika")]
    [marker] = await world.store.transcript(SID)
    assert (marker.role, marker.marker, marker.name) == (Role.SYSTEM, Marker.TAKEN, "Erika")
    assert marker.text == "Sie schreiben jetzt mit Erika (Stadtverwaltung)."
    # the same clerk again: no second announcement, Rasa paused once more
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    assert len(await world.store.transcript(SID)) == 1
    assert world.tracker.kinds(SID) == ["pause", "pause"]


async def test_one_holder_per_conversation(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    with pytest.raises(TakeoverRefused) as caught:
        await world.takeover.start(session_id=SID, case_id=CASE, user="max", name="Max")
    assert (caught.value.refusal, caught.value.holder) == (Refusal.TAKEN, "erika")
    for step in (
        world.takeover.say(SID, "max", "Hallo"),
        world.takeover.typing(SID, "max", True),
        world.takeover.hand_back(SID, "max"),
        world.takeover.close(SID, "max"),
    ):
        with pytest.raises(TakeoverRefused) as caught:
            await step
        assert caught.value.refusal is Refusal.NOT_HOLDER
    assert (await world.takeover.holder(SID)).user == "erika"  # type: ignore[union-attr]


async def test_two_clerks_at_once_one_wins(world: World) -> None:
    results = await asyncio.gather(
        *(
            world.takeover.start(session_id=SID, case_id=CASE, user=u, name=u)
            for u in ("a", "b", "c")
        ),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, TakeoverRefused) for r in results if r not in won)


async def test_rasa_down_refuses_the_takeover_and_keeps_the_bot(world: World) -> None:
    world.tracker.down = True
    with pytest.raises(TakeoverRefused) as caught:
        await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    assert caught.value.refusal is Refusal.ENGINE
    assert not await world.takeover.active(SID)


async def test_the_clerks_messages_reach_the_widget_rasa_and_the_transcript(
    world: World,
) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await received(world, 1)
    await world.takeover.typing(SID, "erika", True)
    assert await received(world, 1) == [Typing(True, "Erika")]
    await world.takeover.say(SID, "erika", "  Guten Tag, <b>wie</b> kann ich helfen?  ")
    assert await received(world, 2) == [
        StaffLine("Guten Tag, <b>wie</b> kann ich helfen?", "Erika"),
        Typing(False, "Erika"),
    ]
    agent = world.tracker.events[SID][-1]
    assert agent["event"] == "agent"
    assert agent["text"] == "Guten Tag, <b>wie</b> kann ich helfen?"
    assert agent["data"] == {"name": "Erika", "role": "staff"}
    line = (await world.store.transcript(SID))[-1]
    assert (line.role, line.name) == (Role.STAFF, "Erika")
    assert history_lines(await world.store.transcript(SID))[-1] == StaffLine(
        line.text, "Erika", line.ts
    )


async def test_a_staff_message_of_the_limit_passes_one_more_is_refused(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await world.takeover.say(SID, "erika", "x" * MAX_STAFF_CHARS)
    for text, refusal in (("x" * (MAX_STAFF_CHARS + 1), Refusal.TOO_LONG), (" ", Refusal.EMPTY)):
        with pytest.raises(TakeoverRefused) as caught:
            await world.takeover.say(SID, "erika", text)
        assert caught.value.refusal is refusal
    assert world.tracker.kinds(SID) == ["pause", "agent"]


async def test_a_new_rasa_session_during_a_takeover_is_paused_again(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await world.tracker.append_events(SID, [{"event": "session_started"}])
    assert world.tracker.paused[SID] is False
    await world.takeover.citizen_said(SID, "Sind Sie noch da?")
    assert world.tracker.kinds(SID)[-3:] == ["session_started", "user", "pause"]
    assert world.tracker.paused[SID] is True
    await world.takeover.citizen_said(SID, "Danke")
    assert world.tracker.kinds(SID)[-1] == "user"  # still paused: no extra pause


async def test_hand_back_resumes_rasa_and_the_assistant_greets_back(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await received(world, 1)
    await world.takeover.hand_back(SID, "erika")
    assert world.tracker.kinds(SID)[-3:] == ["resume", "action", "action"]
    assert world.tracker.events[SID][-2]["name"] == "action_listen"
    assert world.tracker.events[SID][-1]["name"] == "action_listen"  # after the welcome
    assert world.tracker.executed == [(SID, WELCOME_BACK_ACTION)]
    assert not await world.takeover.active(SID)
    assert await received(world, 3) == [
        Typing(False, "Erika"),
        HandoffStatus(HandoffState.RETURNED),
        BotLine("Willkommen zurück."),
    ]
    lines = await world.store.transcript(SID)
    assert [(r.role, r.marker) for r in lines[-2:]] == [
        (Role.SYSTEM, Marker.RETURNED),
        (Role.BOT, None),
    ]
    shown = history_lines(lines)
    assert shown[0] == HandoffStatus(HandoffState.TAKEN, None, lines[0].ts, "Erika")
    assert shown[1] == HandoffStatus(HandoffState.RETURNED, None, lines[1].ts)


async def test_hand_back_says_its_own_welcome_when_rasa_cannot(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    world.tracker.said = ()
    await world.takeover.hand_back(SID, "erika")
    assert (await world.store.transcript(SID))[-1].text == WELCOME_BACK_TEXT


async def test_hand_back_is_refused_while_rasa_is_down_and_the_clerk_keeps_it(
    world: World,
) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    world.tracker.down = True
    with pytest.raises(TakeoverRefused) as caught:
        await world.takeover.hand_back(SID, "erika")
    assert caught.value.refusal is Refusal.ENGINE
    assert await world.takeover.active(SID)


async def test_closing_says_goodbye_and_releases_the_chat(world: World) -> None:
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await received(world, 1)
    await world.takeover.close(SID, "erika")
    assert await received(world, 3) == [
        Typing(False, "Erika"),
        BotLine(GOODBYE_TEXT),
        HandoffStatus(HandoffState.RETURNED),
    ]
    assert world.tracker.kinds(SID)[-2:] == ["resume", "action"]
    last = (await world.store.transcript(SID))[-1]
    assert (last.marker, last.text) == (Marker.CLOSED, GOODBYE_TEXT)
    assert not await world.takeover.active(SID)


async def test_the_case_view_follows_the_live_feed(world: World) -> None:
    pubsub = world.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(live_channel(SID))
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    await world.takeover.citizen_typing(SID, True)
    events = []
    async with asyncio.timeout(30):
        while len(events) < 2:
            message = await pubsub.get_message(timeout=5.0)
            if message is not None:
                events.append(json.loads(message["data"]))
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert events[0]["kind"] == "line" and events[0]["marker"] == "taken"
    assert events[0]["role"] == "system" and events[0]["name"] == "Erika"
    assert events[1] == {"kind": "typing", "on": True}


async def test_availability_marks_lapse_and_pause_ends_them(world: World) -> None:
    assert await world.takeover.availability("erika") is Availability.PAUSE
    assert not await world.takeover.staff_available(None)
    await world.takeover.set_availability("erika", Availability.AVAILABLE)
    assert await world.takeover.availability("erika") is Availability.AVAILABLE
    assert await world.takeover.staff_available(None)
    world.clock.now += 10 * 3600  # exactly when the mark lapses: no longer available
    assert not await world.takeover.staff_available(None)
    assert await world.takeover.availability("erika") is Availability.PAUSE
    world.clock.now -= 1
    assert await world.takeover.staff_available(None)
    await world.takeover.set_availability("erika", Availability.PAUSE)
    assert not await world.takeover.staff_available(None)
    assert await world.redis.zcard(AVAILABLE_KEY) == 0


class Directory:
    """The clerks' departments, as console.accounts.Accounts keeps them."""

    def __init__(self, departments: dict[str, frozenset[str]]) -> None:
        self.departments = departments
        self.asked: list[str] = []

    async def departments_of(self, user: str) -> frozenset[str]:
        self.asked.append(user)
        return self.departments.get(user, frozenset())


def scoped(world: World, directory: Directory, scope: AvailabilityScope) -> Takeover:
    return Takeover(
        world.redis,
        world.store,
        world.tracker,
        LiveFeed(world.redis),
        staff=directory,
        scope=scope,
        clock=world.clock,
    )


async def test_by_department_a_clerk_counts_for_their_departments_or_for_all_without(
    world: World,
) -> None:
    directory = Directory(
        {"erika": frozenset({"standesamt", "ordnungsamt"}), "max": frozenset({"bauamt"})}
    )
    takeover = scoped(world, directory, AvailabilityScope.DEPARTMENT)
    assert not await takeover.staff_available("standesamt")  # nobody marked
    assert directory.asked == []
    await takeover.set_availability("max", Availability.AVAILABLE)
    assert not await takeover.staff_available("standesamt")
    assert await takeover.staff_available("bauamt")
    assert await takeover.staff_available(None)  # no department known: anyone
    await takeover.set_availability("erika", Availability.AVAILABLE)
    assert await takeover.staff_available("standesamt")
    assert await takeover.staff_available("ordnungsamt")
    assert await takeover.staff_available("buergerbuero") is False
    await takeover.set_availability("anna", Availability.AVAILABLE)  # no department: all
    assert await takeover.staff_available("buergerbuero")
    await takeover.set_availability("anna", Availability.PAUSE)
    world.clock.now += 10 * 3600  # every mark lapsed
    assert not await takeover.staff_available("bauamt")
    assert not await takeover.staff_available(None)


async def test_anyone_counts_when_so_configured_or_without_a_directory(world: World) -> None:
    directory = Directory({"max": frozenset({"bauamt"})})
    anyone = scoped(world, directory, AvailabilityScope.ANYONE)
    assert not await anyone.staff_available("standesamt")
    await anyone.set_availability("max", Availability.AVAILABLE)
    assert await anyone.staff_available("standesamt")
    assert directory.asked == []  # the departments are not even looked up
    assert await world.takeover.staff_available("standesamt")  # the world's has no directory
    assert [s.value for s in AvailabilityScope] == ["department", "anyone"]


async def test_the_waiting_list_keeps_the_first_wait_and_is_bounded(world: World) -> None:
    await world.takeover.wait_for_staff(CASE)
    world.clock.now += 60
    await world.takeover.wait_for_staff(CASE)  # asked again: the wait runs from the first
    assert await world.takeover.waiting_since(CASE) == world.clock.now - 60
    others = {f"C-20261201-{i:06d}": 0.0 for i in range(MAX_WAITING - 2)}
    await world.redis.zadd(WAITING_KEY, others)  # type: ignore[arg-type]
    await world.takeover.wait_for_staff("C-20261201-LAST01")  # the MAX_WAITING-th: taken
    assert await world.redis.zcard(WAITING_KEY) == MAX_WAITING == 10_000
    await world.takeover.wait_for_staff("C-20261201-FULL01")  # one more: refused
    assert await world.takeover.waiting_since("C-20261201-FULL01") is None


async def test_a_chat_starting_to_wait_refreshes_open_inboxes(world: World) -> None:
    pubsub = world.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(INBOX_EVENTS_CHANNEL)
    await world.takeover.wait_for_staff(CASE)
    assert INBOX_EVENTS_CHANNEL == "rb:events:console"
    async with asyncio.timeout(30):  # a safety net, not a speed requirement
        for _ in range(6):
            message = await pubsub.get_message(timeout=5.0)
            if message is not None:
                break
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert message is not None
    assert json.loads(message["data"]) == {"event": "changed", "id": CASE}


async def test_nobody_in_time_brings_the_callback_offer_once(world: World) -> None:
    case = Case(CASE, SID, Channel.WEBCHAT, "user_request", None, world.clock.now)
    await world.store.open_case(case)
    await world.takeover.wait_for_staff(CASE)
    assert await world.takeover.waiting_since(CASE) == world.clock.now
    world.clock.now += 179
    assert await world.takeover.expire_waiting() == []
    world.clock.now += 1
    assert await world.takeover.expire_waiting() == [CASE]
    assert await world.takeover.expire_waiting() == []  # told once
    [offer] = await received(world, 1)
    assert isinstance(offer, BotLine)
    assert CASE in offer.text and "niemand" in offer.text
    assert offer.buttons == (CALLBACK_BUTTON,)
    assert "Frage" in offer.text  # or leave the question here
    last = (await world.store.transcript(SID))[-1]
    assert last.role is Role.SYSTEM and last.buttons == offer.buttons
    assert await world.takeover.waiting_since(CASE) is None


async def test_a_taken_over_chat_leaves_the_waiting_list(world: World) -> None:
    await world.takeover.wait_for_staff(CASE)
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    assert await world.redis.zscore(WAITING_KEY, CASE) is None


async def test_the_core_sends_a_held_chats_messages_to_the_clerk_not_to_rasa(
    world: World,
) -> None:
    engine = FakeEngine(lambda sid, channel, text: EngineAnswer())
    core = DialogueCore(engine, world.store, takeover=world.takeover, live=LiveFeed(world.redis))
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")
    pubsub = world.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(live_channel(SID))  # the clerk's case view
    assert await core.handle(UserTurn(SID, Channel.WEBCHAT, " Hallo Erika ")) == []
    async with asyncio.timeout(30):  # a safety net, not a speed requirement
        for _ in range(6):
            shown = await pubsub.get_message(timeout=5.0)
            if shown is not None:
                break
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert shown is not None
    assert json.loads(shown["data"])["text"] == "Hallo Erika"
    assert engine.received == []
    assert world.tracker.events[SID][-1]["text"] == "Hallo Erika"
    assert world.tracker.kinds(SID) == ["pause", "user"]
    line = (await world.store.transcript(SID))[-1]
    assert (line.role, line.text) == (Role.USER, "Hallo Erika")
    await world.takeover.hand_back(SID, "erika")
    await core.handle(UserTurn(SID, Channel.WEBCHAT, "Öffnungszeiten?"))
    assert engine.received == [(SID, Channel.WEBCHAT, "Öffnungszeiten?")]


async def test_the_clerk_reads_a_chosen_quick_replys_title_not_its_payload(
    world: World,
) -> None:
    engine = FakeEngine(lambda sid, channel, text: EngineAnswer())
    core = DialogueCore(engine, world.store, takeover=world.takeover, live=LiveFeed(world.redis))
    buttons = (CALLBACK_BUTTON, Button("Termin buchen", "/book"))
    offer = TranscriptRecord.new(
        Channel.WEBCHAT, Role.BOT, "Wie weiter?", buttons=buttons, clock=world.clock
    )
    await world.store.append(SID, offer)
    await world.takeover.start(session_id=SID, case_id=CASE, user="erika", name="Erika")

    async def clerk_reads(text: str) -> str:
        await core.handle(UserTurn(SID, Channel.WEBCHAT, text))
        assert world.tracker.events[SID][-1]["text"] == text  # Rasa keeps what was sent
        return (await world.store.transcript(SID))[-1].text

    # the offer is still on screen after the takeover's announcement
    assert await clerk_reads("/book") == "Termin buchen"
    await world.store.append(SID, offer)
    assert await clerk_reads("/callback_request") == "Rückruf vereinbaren"
    # a payload that was not offered (or no longer is: the citizen spoke since) shows as is
    assert await clerk_reads("/callback_request") == "/callback_request"
    await world.store.append(SID, offer)
    assert await clerk_reads("/not_offered") == "/not_offered"
    await world.store.append(SID, offer)
    await world.takeover.say(SID, "erika", "Ich rufe Sie an.")  # a clerk's line clears it
    assert await clerk_reads("/book") == "/book"
    assert await clerk_reads("Rückruf vereinbaren") == "Rückruf vereinbaren"
    await world.store.append(SID, offer)

    async def unreachable(session_id: str, *, scan: int = 50) -> tuple[Button, ...]:
        raise redis_errors.ConnectionError("Redis is down")

    world.store.offered_buttons = unreachable  # type: ignore[method-assign]
    assert await clerk_reads("/book") == "/book"  # not looked up: shown as sent


async def test_offered_buttons_are_looked_for_among_the_last_lines_only(world: World) -> None:
    def line(buttons: tuple[Button, ...] = ()) -> TranscriptRecord:
        return TranscriptRecord.new(
            Channel.WEBCHAT, Role.SYSTEM, "Hinweis", buttons=buttons, clock=world.clock
        )

    await world.store.append(SID, line((CALLBACK_BUTTON,)), *(line() for _ in range(49)))
    assert await world.store.offered_buttons(SID) == (CALLBACK_BUTTON,)
    await world.store.append(SID, line())
    assert await world.store.offered_buttons(SID) == ()
    assert await world.store.offered_buttons("s-none") == ()


async def test_a_case_closed_or_held_while_waiting_is_not_told(world: World) -> None:
    case = Case(CASE, SID, Channel.WEBCHAT, "user_request", None, world.clock.now)
    await world.store.open_case(case)
    await world.takeover.wait_for_staff(CASE)
    await world.redis.hset(f"rb:case:{CASE}", "status", "closed")
    world.clock.now += 180
    assert await world.takeover.expire_waiting() == []
    assert await world.takeover.waiting_since(CASE) is None  # and it left the list
    assert world.tab.empty()
