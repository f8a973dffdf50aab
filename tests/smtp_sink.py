"""A tiny SMTP server for tests: takes every message (no TLS, no login) and keeps it."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage
from types import TracebackType
from typing import Self

MAX_LINE = 64 * 1024


class SmtpSink:
    """`async with SmtpSink() as sink:` listens on 127.0.0.1:`sink.port`; `sink.messages`
    holds what arrived and `sink.arrived` is set on each one."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.arrived = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0, limit=MAX_LINE)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        rcpt: list[str] = []
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250 sink\r\n")
                elif verb == b"MAIL":
                    rcpt = []
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    rcpt.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                    await writer.drain()
                    body = bytearray()
                    while (data := await reader.readline()) not in (b".\r\n", b""):
                        body += data[1:] if data.startswith(b"..") else data
                    parsed = email.message_from_bytes(bytes(body), policy=email.policy.default)
                    assert isinstance(parsed, EmailMessage)
                    self.messages.append(parsed)
                    self.recipients.append(rcpt)
                    self.arrived.set()
                    writer.write(b"250 OK\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 OK\r\n")  # RSET, NOOP
                await writer.drain()
        finally:
            writer.close()
