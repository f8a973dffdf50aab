"""A call in English through the session driver (docs/languages.md): "English please"
switches the recogniser and the machine's own prompts, German calls keep German."""

from __future__ import annotations

from contract.language import Register
from contract.phone import NUMBER_NOT_ALLOWED_TEXT, NUMBER_NOT_ALLOWED_TEXT_EN
from dialogue.store import ConversationStore
from tests.voice.test_session import QUIET, SPEECH, Harness, store
from voice.keymenu import REASK, REASK_EN, TOPICS, TOPICS_EN, KeyMenu
from voice.prompts import PROMPTS, PROMPTS_EN
from voice.session import DtmfIn

__all__ = ["store"]  # the fixture


def first_sentence(text: str) -> str:
    return text.split("?")[0].split(".")[0]


async def reprompted(h: Harness) -> str:
    await h.audio(QUIET, 100)
    await h.until_quiet()
    return " ".join(h.tts.calls)


async def test_english_please_switches_the_recogniser_and_the_prompts(
    store: ConversationStore,
) -> None:
    async with Harness(
        store,
        "English please",
        english=("I need a passport",),
        engine_workers=True,
        reprompt_after_s=2.0,
        max_reprompts=2,
    ) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert h.engine.received[-1][2] == "English please"
        assert h.language.register is Register.EN
        said = await reprompted(h)
        assert first_sentence(PROMPTS_EN.reprompt) in said
        assert first_sentence(PROMPTS.reprompt) not in said
        await h.audio(SPEECH, 25)
        await h.until(lambda: h.engine.received[-1][2] == "I need a passport")
        assert h.asr_en.heard and len(h.asr.heard) == 1  # the English engine, on the worker
        await h.until_quiet()
        said = " ".join(h.tts.calls)
        assert said.count(PROMPTS_EN.disclosure) == 1  # once, with the first English answer
        assert said.index(PROMPTS_EN.disclosure) < said.index("Sie sagten English please")


async def test_a_german_call_keeps_the_german_prompts(store: ConversationStore) -> None:
    async with Harness(
        store,
        "Hundesteuer",
        english=("never",),
        engine_workers=True,
        reprompt_after_s=2.0,
        max_reprompts=2,
    ) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        said = await reprompted(h)
        assert first_sentence(PROMPTS.reprompt) in said
        assert first_sentence(PROMPTS_EN.reprompt) not in said
        assert h.language.register is Register.DE and h.asr_en.heard == []
        assert PROMPTS_EN.disclosure not in said and PROMPTS.disclosure not in said


async def test_an_english_call_hears_the_re_ask_the_key_menu_and_typed_digits_in_english(
    store: ConversationStore,
) -> None:
    async with Harness(
        store, "English please", english=(("bulky bulky waste", 0.1),), engine_workers=True
    ) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert h.language.register is Register.EN
        await h.audio(SPEECH, 25)  # an unsure English turn: re-asked, not guessed
        await h.until_quiet()
        said = " ".join(h.tts.calls)
        assert REASK_EN in said and REASK not in said
        assert KeyMenu(TOPICS_EN).prompt(english=True) in said
        assert KeyMenu(TOPICS).prompt() not in said
        assert [r[2] for r in h.engine.received] == ["/greet", "English please"]
        h.call.send(DtmfIn("3"))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "/register_residence"  # same keys as in German
        for digit in "0123#":
            h.call.send(DtmfIn(digit))
        await h.until_quiet()
        assert "You typed: zero one two three." in h.tts.calls
        assert "Sie haben eingegeben: null eins zwei drei." not in h.tts.calls


async def test_an_english_call_offers_the_callback_and_refuses_a_premium_number_in_english(
    store: ConversationStore,
) -> None:
    async with Harness(store, "English please", english=(), engine_workers=True) as h:
        h.call.staff_present = False
        h.call.number = "+4930123456"
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert h.language.register is Register.EN
        h.call.send(DtmfIn("0"))
        spelt = "four nine three zero one two three four five six"
        own_offer = PROMPTS_EN.callback_own_number.format(number=spelt)
        await h.until(lambda: own_offer in " ".join(h.tts.calls))
        await h.until_quiet()
        for digit in "0900123456#":
            h.call.send(DtmfIn(digit))
        await h.until(lambda: NUMBER_NOT_ALLOWED_TEXT_EN in " ".join(h.tts.calls))
        assert NUMBER_NOT_ALLOWED_TEXT not in " ".join(h.tts.calls)
