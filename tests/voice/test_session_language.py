"""A call in English through the session driver (docs/languages.md): "English please"
switches the recogniser and the machine's own prompts, German calls keep German."""

from __future__ import annotations

from contract.language import Register
from dialogue.store import ConversationStore
from tests.voice.test_session import QUIET, SPEECH, Harness, store
from voice.prompts import PROMPTS, PROMPTS_EN

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
