"""The `rathausbot` command: serve, train, chat, doctor, voice-test, voices, call, export,
users, privacy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from dialogue.core import MessageTooLong
from dialogue.messages import BotReply, Channel, UserTurn
from dialogue.store import StoreFull
from rathausbot.app import StartupError, runtime, serve
from rathausbot.observe import JsonLines
from rathausbot.privacy_cli import add_parser as privacy_parser
from rathausbot.settings import Settings
from rathausbot.training import TrainingFailed, train
from rathausbot.users_cli import add_parser as users_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rathausbot", description="Voice and chat assistant for town halls."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the assistant (Redis, Rasa, HTTP server)")
    train_cmd = commands.add_parser("train", help="train the Rasa model if intents/ changed")
    train_cmd.add_argument("--force", action="store_true", help="train even if up to date")
    chat_cmd = commands.add_parser("chat", help="chat with the assistant in the terminal")
    chat_cmd.add_argument(
        "--channel",
        choices=[c.value for c in Channel],
        default=Channel.WEBCHAT.value,
        help="which channel's wording to use (default: webchat)",
    )
    commands.add_parser("doctor", help="check the installation and say how to fix problems")
    vt_cmd = commands.add_parser(
        "voice-test", help="run voice turns from a WAV file (VAD, ASR, dialogue, TTS)"
    )
    vt_cmd.add_argument("wav", type=Path, help="the caller's audio (16-bit PCM WAV, any rate)")
    vt_cmd.add_argument("--out", type=Path, help="write the bot's audio to this WAV file")
    vt_cmd.add_argument(
        "--json",
        action="store_true",
        help="one JSON line per spoken caller turn (keys show in the text output)",
    )
    vt_cmd.add_argument(
        "--keys", default="", help='keys pressed at audio times, e.g. "3.5:1,7:#" (DTMF)'
    )
    voices_cmd = commands.add_parser("voices", help="manage Piper voices")
    voices_sub = voices_cmd.add_subparsers(dest="voices_command", required=True)
    install_cmd = voices_sub.add_parser("install", help="download a Piper voice to var/voices/")
    install_cmd.add_argument("name", help="voice name, e.g. de_DE-thorsten-medium")
    export_cmd = commands.add_parser(
        "export", help="write bookings, tickets or callback requests as CSV (bookings: also ICS)"
    )
    export_cmd.add_argument("kind", choices=["bookings", "tickets", "callbacks"])
    export_cmd.add_argument("--format", choices=["csv", "ics"], default="csv")
    export_cmd.add_argument("--output", "-o", help="file to write (default: standard output)")
    call_cmd = commands.add_parser(
        "call", help="place a test call: play a WAV as the caller and record the answer"
    )
    call_cmd.add_argument("uri", help="whom to call, e.g. sip:rathaus@127.0.0.1:5060")
    call_cmd.add_argument("--play", type=Path, required=True, help="the caller's audio (WAV)")
    call_cmd.add_argument("--record", type=Path, help="write what the far end said (WAV)")
    call_cmd.add_argument("--dtmf", default="", help="keys to press after playing, e.g. 0 or 1#")
    call_cmd.add_argument(
        "--lead", type=float, default=2.0, help="seconds to listen before playing (greeting)"
    )
    call_cmd.add_argument(
        "--listen", type=float, default=10.0, help="seconds to listen after playing"
    )
    call_cmd.add_argument("--tcp", action="store_true", help="signal over TCP instead of UDP")
    users_parser(commands)
    privacy_parser(commands)
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    _configure_logging(settings, quiet=args.command == "chat" or getattr(args, "json", False))

    try:
        match args.command:
            case "serve":
                asyncio.run(serve(settings))
            case "train":
                train(settings, force=args.force)
            case "chat":
                return asyncio.run(chat(settings, Channel(args.channel), sys.stdin, sys.stdout))
            case "doctor":
                from rathausbot.doctor import doctor

                return asyncio.run(doctor(settings))
            case "voice-test":
                from rathausbot.voice_cli import voice_test

                return asyncio.run(
                    voice_test(
                        settings,
                        args.wav,
                        out=args.out,
                        as_json=args.json,
                        keys=args.keys,
                        stdout=sys.stdout,
                    )
                )
            case "voices":
                from rathausbot.voice_cli import voices_install

                return voices_install(settings, args.name)
            case "call":
                from rathausbot.call_cli import call

                return asyncio.run(
                    call(
                        settings,
                        args.uri,
                        args.play,
                        record=args.record,
                        dtmf=args.dtmf,
                        lead_s=args.lead,
                        listen_s=args.listen,
                        tcp=args.tcp,
                    )
                )
            case "users":
                from rathausbot.users_cli import users

                return users(settings, args, sys.stdin, sys.stdout)
            case "privacy":
                from rathausbot.privacy_cli import privacy

                return privacy(settings, args, sys.stdin, sys.stdout)
            case "export":
                from rathausbot.export_cli import export

                return export(settings, args.kind, args.format, args.output)
    except (StartupError, TrainingFailed) as exc:
        print(f"rathausbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _configure_logging(settings: Settings, *, quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
    # httpx logs every request URL at INFO; Rasa's status URL carries the API token.
    # aioice and aiortc log ICE candidates, the browsers' IP addresses, at INFO and DEBUG.
    for noisy in ("httpx", "httpcore", "aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's WebSocket protocol logs every frame, the citizens' messages, at DEBUG.
    floor = max(logging.INFO, logging.getLogger().level)
    for chatty in ("uvicorn.error", "websockets"):
        logging.getLogger(chatty).setLevel(floor)


async def chat(settings: Settings, channel: Channel, stdin: TextIO, stdout: TextIO) -> int:
    """Talks to the assistant: a terminal conversation, or one message per input line."""
    interactive = stdin.isatty()
    if interactive:
        print("Starte den Assistenten (Redis, Rasa) ... einen Moment bitte.", file=sys.stderr)
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        session_id = secrets.token_urlsafe(16)
        if interactive:
            print("Bereit. Schreiben Sie Ihre Frage; Strg+D beendet das Gespräch.\n", file=stdout)
        _print_replies(await rt.core.greet(session_id, channel), stdout)
        while True:
            if interactive:
                print("Sie: ", end="", file=stdout, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            try:
                replies = await rt.core.handle(UserTurn(session_id, channel, line))
            except MessageTooLong as exc:
                print(f"(Nachricht zu lang: {exc})", file=stdout)
                continue
            except StoreFull:
                print(
                    "(Der Speicher ist nicht erreichbar; bitte später erneut versuchen.)",
                    file=stdout,
                )
                continue
            _print_replies(replies, stdout)
            if any(reply.hangup for reply in replies) and interactive:
                break
    return 0


def _print_replies(replies: Sequence[BotReply], stdout: TextIO) -> None:
    for reply in replies:
        if reply.text:
            print(f"Bot: {reply.text}", file=stdout)
        for button in reply.buttons:
            print(f"     [{button.title}]", file=stdout)
        for link in reply.links:
            print(f"     -> {link.title}: {link.url}", file=stdout)
        if reply.handoff is not None and reply.handoff.case_id:
            print(f"     (Vorgang {reply.handoff.case_id} an das Personal übergeben)", file=stdout)
    stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
