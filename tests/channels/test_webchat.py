"""The /ws/chat endpoint over real WebSockets, on a real Redis, with the fake engine."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx

from channels.protocol import (
    Ack,
    AskHuman,
    BotLine,
    Choose,
    CitizenTyping,
    CloseCode,
    Ended,
    EndSession,
    Error,
    ErrorCode,
    HandoffState,
    HandoffStatus,
    KeyPress,
    Ping,
    Pong,
    ProtocolError,
    SendText,
    ServerMessage,
    StaffLine,
    Typing,
    UserLine,
    Welcome,
    encode_client,
    encode_server,
)
from channels.sessions import token_key
from channels.takeover import Takeover
from channels.webchat import EndTexts
from dialogue.live import LiveFeed, live_channel
from dialogue.messages import Button, Link, Role
from dialogue.records import session_key, tracker_key, transcript_key
from tests.channels.chat_client import chat
from tests.channels.conftest import GREETING, ServeChat
from tests.fakes import FakeTracker


def untimed(message: object) -> object:
    """A Welcome with its history's times removed (they come from the real clock)."""
    if not isinstance(message, Welcome):
        return message
    times = [line.at for line in message.history]
    assert all(t is not None for t in times) and times == sorted(times), times
    return replace(message, history=tuple(replace(line, at=None) for line in message.history))


GREETING_LINE = BotLine(
    GREETING,
    (Button("Mit einem Menschen sprechen", "/human_handoff"), Button("Weiter", "/deny")),
)
FORM = Link("Formular", "https://musterstadt.example/formular")


def echo(text: str) -> BotLine:
    return BotLine(f"Echo: {text}", (), (FORM,))


def errors(messages: list[ServerMessage]) -> list[tuple[ErrorCode, str | None]]:
    return [(m.code, m.id) for m in messages if isinstance(m, Error)]


async def test_a_new_session_is_greeted_and_answered(serve_chat: ServeChat) -> None:
    async with serve_chat(session_idle_s=600) as server, chat(server.url) as client:
        hello = await client.hello()
        assert client.token is not None and len(client.token) >= 32  # 192 random bits
        assert hello == [
            Welcome(token=client.token, resumed=False),
            Typing(True),
            GREETING_LINE,
            Typing(False),
        ]
        assert 0 < await server.redis.ttl(token_key(client.token)) <= 600
        turn = await client.turn(SendText("m1", "Wann hat das Bürgerbüro offen?"))
        assert turn == [
            Typing(True),
            Ack("m1"),
            echo("Wann hat das Bürgerbüro offen?"),
            Typing(False),
        ]
        await client.send(Ping())
        assert await client.recv() == Pong()
    assert server.engine.received[1][2] == "Wann hat das Bürgerbüro offen?"


async def test_a_reload_resumes_the_session_with_its_history(serve_chat: ServeChat) -> None:
    async with serve_chat() as server:
        async with chat(server.url) as first:
            await first.hello()
            await first.turn(SendText("m1", "<img src=x onerror=alert(1)>"))
            await first.turn(Choose("m2", "/deny", "Weiter"))
            token = first.token
        async with chat(server.url) as again:
            [welcome] = await again.hello(token)
            assert untimed(welcome) == (
                Welcome(
                    token=token or "",
                    resumed=True,
                    history=(
                        GREETING_LINE,
                        UserLine("<img src=x onerror=alert(1)>"),
                        echo("<img src=x onerror=alert(1)>"),
                        UserLine("Weiter"),  # the quick reply's title, not its payload
                        BotLine("In Ordnung."),
                    ),
                )
            )
            assert [text for _, _, text in server.engine.received].count("/greet") == 1
            turn = await again.turn(SendText("m3", "noch etwas"))
            assert echo("noch etwas") in turn


async def test_an_unknown_or_expired_token_starts_a_new_session(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as client:
        hello = await client.hello("not-a-token-we-issued")
        assert isinstance(hello[0], Welcome) and not hello[0].resumed
        assert client.token != "not-a-token-we-issued"
        assert GREETING_LINE in hello


async def test_every_tab_of_a_session_sees_the_conversation(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as tab1, chat(server.url) as tab2:
        await tab1.hello()
        await tab2.hello(tab1.token)
        await tab1.turn(SendText("m1", "Hallo aus Tab 1"))
        mirrored = await tab2.until(lambda m: isinstance(m, BotLine))
        assert mirrored == [UserLine("Hallo aus Tab 1"), echo("Hallo aus Tab 1")]
        await tab2.turn(AskHuman("m2"))
        mirrored = await tab1.until(lambda m: isinstance(m, HandoffStatus))
        assert mirrored[0] == UserLine("Mit einem Menschen sprechen")
        assert mirrored[1] == BotLine("Ich verbinde Sie.")
        status = mirrored[2]
        assert isinstance(status, HandoffStatus) and status.state is HandoffState.REQUESTED
        assert status.case_id is not None and status.case_id.startswith("C-")
        assert await server.store.case(status.case_id) is not None


async def test_bad_frames_get_errors_and_nobody_is_disturbed(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as bad, chat(server.url) as good:
        await good.hello()
        await bad.send(SendText("early", "vor dem hello"))
        assert errors([await bad.recv()]) == [(ErrorCode.NOT_READY, "early")]
        await bad.hello()
        cases = [
            ("kein JSON", ErrorCode.BAD_JSON),
            (b"\xff\x00binary", ErrorCode.BAD_JSON),
            ('{"type": "selfdestruct"}', ErrorCode.UNKNOWN_TYPE),
            ('{"type": "text", "id": "x"}', ErrorCode.BAD_FRAME),
            ('{"type": "hello", "v": 1}', ErrorCode.BAD_FRAME),  # hello twice
            (encode_client(SendText("big", "x" * 9000)), ErrorCode.FRAME_TOO_LARGE),
        ]
        for frame, code in cases:
            await bad.send_raw(frame)
            reply = await bad.recv()
            assert isinstance(reply, Error) and reply.code is code, (frame, reply)
            assert reply.text  # German text for the widget
            turn = await good.turn(SendText(f"g-{code}", "alles gut?"))
            assert echo("alles gut?") in turn
        assert echo("danach") in await bad.turn(SendText("after", "danach"))  # still open


async def test_a_frame_over_the_transport_cap_closes_only_that_socket(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat() as server, chat(server.url) as bad, chat(server.url) as good:
        await good.hello()
        await bad.hello()
        await bad.send_raw("x" * (2 << 20))
        assert await bad.close_code() == 1009
        assert echo("weiter") in await good.turn(SendText("g1", "weiter"))


async def test_a_flood_is_refused_and_no_accepted_message_is_lost(serve_chat: ServeChat) -> None:
    async with (
        serve_chat(rate_burst=3, rate_per_minute=1) as server,
        chat(server.url) as flood,
        chat(server.url) as calm,
    ):
        await flood.hello()
        await calm.hello()
        for n in range(8):
            await flood.send(SendText(f"f{n}", f"Nachricht {n}"))
        frames = await flood.until(lambda m: isinstance(m, Error) and m.id == "f7")
        acked = [m.id for m in frames if isinstance(m, Ack)]
        refused = [id for code, id in errors(frames) if code is ErrorCode.RATE_LIMITED]
        assert acked == ["f0", "f1", "f2"]
        assert refused == [f"f{n}" for n in range(3, 8)]
        session = await server.endpoint_session(flood.token)
        users = [r.text for r in await server.store.transcript(session) if r.role is Role.USER]
        assert users == ["Nachricht 0", "Nachricht 1", "Nachricht 2"]
        assert echo("ich bin ruhig") in await calm.turn(SendText("c1", "ich bin ruhig"))


async def test_a_foreign_origin_is_refused_with_a_reason(serve_chat: ServeChat) -> None:
    async with serve_chat(allowed_origins=frozenset({"https://www.musterstadt.de"})) as server:
        async with chat(server.url, origin="https://evil.example") as foreign:
            reply = await foreign.recv()
            assert isinstance(reply, Error) and reply.code is ErrorCode.ORIGIN_FORBIDDEN
            assert await foreign.close_code() == CloseCode.POLICY
        for origin in ("https://www.musterstadt.de", "http://localhost:8080", None):
            async with chat(server.url, origin=origin) as ok:
                assert GREETING_LINE in await ok.hello()


async def test_connections_per_address_are_limited(serve_chat: ServeChat) -> None:
    async with serve_chat(max_connections_per_ip=2) as server:
        async with chat(server.url) as one, chat(server.url) as two:
            await one.hello()
            await two.hello()
            async with chat(server.url) as three:
                reply = await three.recv()
                assert isinstance(reply, Error) and reply.code is ErrorCode.TOO_MANY_CONNECTIONS
                assert await three.close_code() == CloseCode.POLICY
            assert echo("noch da") in await one.turn(SendText("o1", "noch da"))
        async with chat(server.url) as again:
            assert GREETING_LINE in await again.hello()


async def test_an_idle_socket_is_closed_and_the_session_resumes(serve_chat: ServeChat) -> None:
    async with serve_chat(idle_timeout_s=1) as server:
        async with chat(server.url) as client:
            await client.hello()
            assert await client.close_code() == CloseCode.IDLE
        async with chat(server.url) as again:
            resumed = await again.hello(client.token)
            assert untimed(resumed[0]) == Welcome(client.token or "", True, (GREETING_LINE,))


async def test_ending_deletes_the_conversation_and_tells_every_tab(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as tab1, chat(server.url) as tab2:
        await tab1.hello()
        await tab2.hello(tab1.token)
        await tab1.turn(SendText("m1", "Bitte alles löschen"))
        session = await server.endpoint_session(tab1.token)
        await server.redis.set(tracker_key(session), "rasa tracker")
        await tab1.send(EndSession())
        said = EndTexts().deleted
        assert await tab1.until(lambda m: m == Ended(said))
        assert await tab1.close_code() == CloseCode.ENDED
        assert (await tab2.until(lambda m: m == Ended(said)))[-1] == Ended(said)
        assert await tab2.close_code() == CloseCode.ENDED
        for key in (transcript_key(session), session_key(session), tracker_key(session)):
            assert not await server.redis.exists(key), key
        assert not await server.redis.exists(token_key(tab1.token or ""))
        async with chat(server.url) as fresh:
            hello = await fresh.hello(tab1.token)
            assert isinstance(hello[0], Welcome) and not hello[0].resumed


async def test_ending_keeps_a_transcript_that_a_case_holds(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as client:
        await client.hello()
        await client.turn(AskHuman("m1"))
        session = await server.endpoint_session(client.token)
        await client.send(EndSession())
        await client.until(lambda m: m == Ended(EndTexts().kept))
        records = await server.store.transcript(session)
        assert [r.text for r in records if r.role is Role.USER] == ["/human_handoff"]
        assert (await server.store.session(session)) is not None
        assert not await server.redis.exists(token_key(client.token or ""))


async def test_a_message_longer_than_the_dialogue_allows_is_refused(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat(max_message_chars=50) as server, chat(server.url) as client:
        await client.hello()
        turn = await client.turn(SendText("long", "x" * 51))
        assert errors(turn) == [(ErrorCode.MESSAGE_TOO_LONG, "long")]
        empty = await client.turn(SendText("empty", "   "))
        assert errors(empty) == [(ErrorCode.BAD_FRAME, "empty")]


async def test_the_demo_page_and_the_widget_are_served(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, httpx.AsyncClient(base_url=server.http_url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert 'src="/widget/widget.js"' in page.text and "Musterstadt" in page.text
        script = await http.get("/widget/widget.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        css = await http.get("/widget/widget.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        assert (await http.get("/datenschutz.html")).status_code == 200
        assert (await http.get("/widget/nope.js")).status_code == 404


async def test_tabs_on_different_gateways_share_the_session(serve_chat: ServeChat) -> None:
    async with (
        serve_chat() as gateway_a,
        serve_chat() as gateway_b,
        chat(gateway_a.url) as tab1,
        chat(gateway_b.url) as tab2,
    ):
        await tab1.hello()
        assert untimed((await tab2.hello(tab1.token))[0]) == Welcome(
            tab1.token or "", True, (GREETING_LINE,)
        )
        await tab2.turn(SendText("b1", "von Gateway B"))
        mirrored = await tab1.until(lambda m: isinstance(m, BotLine))
        assert mirrored == [UserLine("von Gateway B"), echo("von Gateway B")]


def test_the_end_texts_say_what_goes_what_stays_and_how_long() -> None:
    texts = EndTexts(closed_case_days=91, booking_days=31, ticket_days=181, callback_days=32)
    assert "Der Verlauf ist gelöscht, in diesem Fenster und auf unserem Server." in texts.deleted
    assert "bleibt der Verlauf bei Ihrem Vorgang" in texts.kept
    assert "wird 91 Tage danach gelöscht" in texts.kept
    for text in (texts.deleted, texts.kept):
        assert (
            "Termine bis 31 Tage nach dem Termin, Meldungen 181 Tage, Rückrufwünsche 32 Tage"
            in (text)
        )
    assert "gelöscht" not in texts.kept.split("Auf unserem Server")[1].split("danach")[0]


async def test_a_takeover_reaches_version_1_and_2_tabs_and_their_history(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat() as server, chat(server.url) as new, chat(server.url) as old:
        await new.hello()
        await old.send_raw(json.dumps({"type": "hello", "v": 1, "token": new.token}))
        assert json.loads(await old.ws.recv())["v"] == 1
        sid = await server.endpoint.tokens.resolve(new.token or "")
        assert sid is not None
        takeover = Takeover(server.redis, server.store, FakeTracker(), LiveFeed(server.redis))
        await takeover.start(session_id=sid, case_id="C-1", user="erika", name="Erika")
        await takeover.say(sid, "erika", "Guten Tag")
        assert await new.until(lambda m: isinstance(m, StaffLine)) == [
            HandoffStatus(HandoffState.TAKEN, "C-1", name="Erika"),
            StaffLine("Guten Tag", "Erika"),
        ]
        frames = [json.loads(await old.ws.recv()) for _ in range(2)]
        assert [(f["type"], f["text"]) for f in frames] == [
            ("bot", "Sie schreiben jetzt mit Erika (Stadtverwaltung)."),
            ("bot", "Erika (Stadtverwaltung): Guten Tag"),
        ]
        # the citizen's typing reaches the case view, at most once a second
        server.endpoint.live = LiveFeed(server.redis)
        pubsub = server.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(live_channel(sid))
        for on in (True, True, False):
            await new.send(CitizenTyping(on))
        await new.send(Ping())
        await new.until(lambda m: m == Pong())
        seen: list[object] = []
        async with asyncio.timeout(30):
            while len(seen) < 2:
                message = await pubsub.get_message(timeout=5.0)
                if message is not None:
                    seen.append(json.loads(message["data"]))
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        assert seen == [{"kind": "typing", "on": True}, {"kind": "typing", "on": False}]

    async with serve_chat() as server, chat(server.url) as again, chat(server.url) as again1:
        await again.hello(new.token)
        history = again.welcome.history if again.welcome else ()
        assert history[-2:] == (
            HandoffStatus(HandoffState.TAKEN, None, history[-2].at, "Erika"),
            StaffLine("Guten Tag", "Erika", history[-1].at),
        )
        await again1.send_raw(json.dumps({"type": "hello", "v": 1, "token": new.token}))
        welcome = json.loads(await again1.ws.recv())
        assert [line["text"] for line in welcome["history"]][-2:] == [
            "Sie schreiben jetzt mit Erika (Stadtverwaltung).",
            "Erika (Stadtverwaltung): Guten Tag",
        ]


async def test_a_frame_an_old_widget_cannot_get_is_dropped_not_fatal(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as old:
        await old.send_raw(json.dumps({"type": "hello", "v": 1}))
        token = json.loads(await old.ws.recv())["token"]
        sid = await server.endpoint.tokens.resolve(token)
        assert sid is not None
        await server.endpoint.fanout.publish(sid, "elsewhere", '{"type": "nonsense"}')
        await server.endpoint.fanout.publish(sid, "elsewhere", encode_server(Pong()))
        async with asyncio.timeout(30):
            while True:
                frame = json.loads(await old.ws.recv())
                if frame["type"] == "pong":
                    break
                assert frame["type"] in ("bot", "typing")  # the greeting, not the nonsense


async def test_keypad_keys_go_to_the_sessions_browser_call(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, chat(server.url) as client:
        await client.hello()
        await client.send(KeyPress("1"))  # no calls on this gateway yet
        assert await client.recv() == Error.of(ProtocolError(ErrorCode.NOT_READY))
        pressed: list[tuple[str, str]] = []
        session_id = await server.endpoint_session(client.token)

        def keypad(session: str, key: str) -> bool:
            pressed.append((session, key))
            return key != "#"  # '#': as if the session had no call running

        server.endpoint.keypad = keypad
        await client.send(KeyPress("1"))
        await client.send(KeyPress("#"))
        assert await client.recv() == Error.of(ProtocolError(ErrorCode.NOT_READY))
        await client.send(Ping())
        assert await client.recv() == Pong()
        assert pressed == [(session_id, "1"), (session_id, "#")]
