"""What the citizen is told after a handoff: a clerk is coming, or honestly why not.

The Rasa action writes who the concern goes to; the gateway alone knows the case number it
opened, so it completes that reply here: the case is stored under its number, staff work on
it during staff hours, and outside them the citizen hears so and is offered a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from contract.german import WEEKDAYS, clock_spoken, spell_reference
from contract.language import Register
from dialogue.messages import BotReply, Button, Channel
from telephony.staff_hours import BERLIN, StaffHours

CALLBACK_BUTTON = Button(title="Rückruf vereinbaren", payload="/callback_request")
CONNECTING_TEXT = "Einen Moment, ich verbinde Sie mit einer Mitarbeiterin."
NOBODY_FREE_TEXT = (
    "Im Moment ist leider niemand aus der Stadtverwaltung frei, um direkt mit Ihnen zu schreiben."
)


class HandoffNotice:
    """Completes a handoff reply with its case number and the staff hours (`clock` gives
    the current time, injected for tests)."""

    def __init__(
        self, hours: StaffHours, *, clock: Callable[[], datetime] = lambda: datetime.now(BERLIN)
    ) -> None:
        self._hours = hours
        self._clock = clock

    def staffed_now(self) -> bool:
        """Whether staff are at work now (staff hours, the town's holidays off)."""
        return self._hours.is_open(self._clock())

    def complete(
        self,
        reply: BotReply,
        channel: Channel,
        case_id: str,
        *,
        available: bool | None = None,
        register: Register = Register.DE,
    ) -> BotReply:
        """``reply`` with the notice appended (chat: a callback button too). `available`
        says whether a clerk is free for a live chat (None: unknown, no live chat offered):
        then, in staff hours, the citizen is told to wait a moment and gets no button.
        ``register``: English and Leichte Sprache get their own shorter notice."""
        now = self._clock()
        open_now = self._hours.is_open(now)
        if register is not Register.DE:
            return _other_register(reply, channel, case_id, register, open_now, available)
        if channel is Channel.WEBCHAT and open_now and available:
            notice = f"{CONNECTING_TEXT} Ihre Vorgangsnummer: {case_id}."
            text = f"{reply.text} {notice}" if reply.text else notice
            return replace(reply, text=text)
        if channel is Channel.VOICE:
            notice = self._spoken(case_id, now, open_now=open_now)
            buttons = reply.buttons
        else:
            notice = self._written(case_id, now, open_now=open_now, available=available)
            buttons = (*reply.buttons, CALLBACK_BUTTON)
        text = f"{reply.text} {notice}" if reply.text else notice
        return replace(reply, text=text, buttons=buttons)

    def _written(
        self, case_id: str, now: datetime, *, open_now: bool, available: bool | None
    ) -> str:
        hours = self._hours.describe(spoken=False)
        stored = f"Ihr Anliegen ist unter der Vorgangsnummer {case_id} gespeichert."
        if open_now and available is False:
            work = f"{NOBODY_FREE_TEXT} Wir bearbeiten Ihr Anliegen so bald wie möglich."
        elif open_now:
            work = (
                "Unsere Mitarbeiterinnen und Mitarbeiter bearbeiten es während der "
                f"Servicezeiten ({hours})."
            )
        else:
            work = (
                f"Im Moment ist außerhalb unserer Servicezeiten ({hours}) niemand im Dienst; "
                f"wir bearbeiten Ihr Anliegen {self._next(now, spoken=False)}."
            )
        return (
            f"{stored} {work} Wenn Sie eine Antwort wünschen, rufen wir Sie gern zurück: "
            "Wählen Sie dazu „Rückruf vereinbaren“."
        )

    def _spoken(self, case_id: str, now: datetime, *, open_now: bool) -> str:
        stored = (
            f"Ihr Anliegen ist gespeichert. Ihre Vorgangsnummer lautet: {spell_reference(case_id)}."
        )
        if open_now:
            return stored
        hours = self._hours.describe(spoken=True)
        return (
            f"{stored} Unsere Servicezeiten sind {hours}. "
            f"Wir bearbeiten Ihr Anliegen {self._next(now, spoken=True)}."
        )

    def _next(self, now: datetime, *, spoken: bool) -> str:
        opening = self._hours.next_opening(now)
        if opening is None:
            return "in den nächsten Servicezeiten"
        local = opening.astimezone(BERLIN)
        at = clock_spoken(local.hour, local.minute) if spoken else f"{local:%H:%M} Uhr"
        if local.date() == now.astimezone(BERLIN).date():
            return f"ab heute {at}"
        day = WEEKDAYS[local.weekday()]
        return f"ab {day}, {at}" if spoken else f"ab {day}, {local:%d.%m.}, {at}"


_OTHER = {  # register: (connecting, stored (written), stored (spoken), outside hours, button)
    Register.EN: (
        "One moment, I am connecting you with a member of staff. Your case number: {case}.",
        "Your request is stored under the case number {case}. Our staff deal with it during "
        "service hours. If you would like an answer, we will gladly call you back: choose "
        "“Arrange a call back”.",
        "Your request is stored. Your case number is: {case}.",
        " Right now is outside our service hours; we will deal with it as soon as we are back.",
        "Arrange a call back",
    ),
    Register.EINFACH: (
        "Einen Moment bitte. Gleich schreibt ein Mensch mit Ihnen. Ihre Nummer ist {case}.",
        "Ihre Frage ist gespeichert. Ihre Nummer ist {case}. Ein Mensch aus dem Rathaus "
        "kümmert sich darum. Sie möchten einen Anruf? Dann klicken Sie auf: Rückruf "
        "vereinbaren.",
        "Ihre Frage ist gespeichert. Ihre Nummer ist: {case}.",
        " Jetzt ist niemand im Rathaus. Wir kümmern uns bald darum.",
        CALLBACK_BUTTON.title,
    ),
}


def _other_register(
    reply: BotReply,
    channel: Channel,
    case_id: str,
    register: Register,
    open_now: bool,
    available: bool | None,
) -> BotReply:
    """The notice in English or Leichte Sprache (no staff hours spelled out)."""
    connecting, written, spoken, outside, button = _OTHER[register]
    buttons = reply.buttons
    if channel is Channel.WEBCHAT and open_now and available:
        notice = connecting.format(case=case_id)
    elif channel is Channel.VOICE:
        case = spell_reference(case_id) if register is Register.EINFACH else " ".join(case_id)
        notice = spoken.format(case=case) + ("" if open_now else outside)
    else:
        notice = written.format(case=case_id) + ("" if open_now else outside)
        buttons = (*reply.buttons, Button(title=button, payload=CALLBACK_BUTTON.payload))
    text = f"{reply.text} {notice}" if reply.text else notice
    return replace(reply, text=text, buttons=buttons)
