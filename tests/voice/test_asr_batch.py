"""Batched recognition on the real model: the same transcripts as one by one."""

from __future__ import annotations

import pytest

from bench.speech_samples import pico
from rathausbot.settings import Settings
from voice import asr as asr_module
from voice.asr import Device, DeviceChoice, WhisperTranscriber, other_script_tokens, resolve_model
from voice.audio import AudioFrame, concat, resample

pytestmark = pytest.mark.slow


def utterance(text: str, seconds: float) -> AudioFrame:
    speech = resample(pico(text), 16000)
    pad = AudioFrame.silence(max(0.0, seconds - speech.duration_s), 16000)
    return concat([speech, pad], 16000)


@pytest.fixture(scope="module")
def asr() -> WhisperTranscriber:
    """The packaged model, greedy, loaded once for the module's tests."""
    model = resolve_model(None, Settings().var_dir / "models")
    return WhisperTranscriber(model, device=DeviceChoice(Device.CPU, "int8", 2), beam_size=1)


def test_utterances_of_one_window_are_recognised_together_as_alone(
    asr: WhisperTranscriber,
) -> None:
    audios = [
        utterance("Ich brauche einen neuen Personalausweis.", 3.0),
        utterance("Wann wird der Sperrmüll abgeholt?", 3.0),
        utterance("Guten Tag.", 1.2),
    ]
    keys = [asr.batch_key(a) for a in audios]
    assert keys[0] == keys[1] != keys[2] and None not in keys
    alone = [asr.transcribe(a) for a in audios]
    together = asr.transcribe_batch(audios[:2])
    assert [t.text for t in together] == [t.text for t in alone[:2]]
    assert [t.confidence for t in together] == pytest.approx(
        [t.confidence for t in alone[:2]], abs=0.02
    )
    assert "Personalausweis" in together[0].text
    assert [t.text for t in asr.transcribe_batch(audios)] == [t.text for t in alone]  # mixed


def test_a_batch_detects_each_utterances_language_as_alone(asr: WhisperTranscriber) -> None:
    audios = [
        utterance("Ich brauche einen neuen Personalausweis.", 3.0),
        utterance("Wann wird der Sperrmüll abgeholt?", 3.0),
    ]
    together = asr.transcribe_batch(audios, detect=True)
    for audio, transcript in zip(audios, together, strict=True):
        alone = dict(asr.language_probabilities(audio))
        found = dict(transcript.languages)
        assert max(found, key=found.__getitem__) == "de", found
        assert found["de"] == pytest.approx(alone["de"], abs=0.02)
        assert transcript.text == asr.transcribe(audio).text
    assert asr.transcribe_batch(audios)[0].languages == ()  # only when asked
    # one by one (different windows) still detects
    other = utterance("Wie hoch ist die Hundesteuer?", 2.0)  # a shorter window
    mixed = asr.transcribe_batch([audios[0], other], detect=True)
    assert [dict(t.languages).get("de", 0.0) > 0.5 for t in mixed] == [True, True]


def test_the_length_limit_is_reached_exactly_when_the_text_has_no_room_to_end(
    asr: WhisperTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CTranslate2 returns no end token, and the decoder may write `_text_tokens`: with room
    for the sentence's tokens and the end it ends, with room for the tokens alone it is cut
    off (a runaway), so `_decode_limit` matches what CTranslate2 really lets it write."""
    audios = [
        utterance("Ich brauche einen neuen Personalausweis.", 3.0),
        utterance("Wann wird der Sperrmüll abgeholt?", 3.0),
    ]
    heard = asr.transcribe(audios[0])
    assert heard.confidence > 0.5
    samples = resample(audios[0], 16000).float32()
    (free,) = asr._model.model.generate(
        asr._encode_short(samples), [asr._prompt_tokens], beam_size=1
    )
    tokens = len(free.sequences_ids[0])  # the words' tokens; the end token is not returned
    assert 6 <= tokens <= 20
    room = {"tokens": tokens + 1}
    monkeypatch.setattr(asr_module, "_text_tokens", lambda seconds: room["tokens"])
    assert asr.transcribe(audios[0]) == heard  # room for its last token and the end
    room["tokens"] = tokens
    cut = asr.transcribe(audios[0])  # every token written, no room to end: decoded again
    assert (cut.text, cut.confidence) == (heard.text, 0.0)
    room["tokens"] = 3
    together = asr.transcribe_batch(audios)
    assert [t.confidence for t in together] == [0.0, 0.0]
    assert heard.text.startswith(together[0].text) and len(together[0].text) < len(heard.text)
    assert together[1].text  # cut off too, not lost


def test_the_packaged_vocabulary_s_other_script_tokens_leave_german_alone() -> None:
    from faster_whisper.tokenizer import Tokenizer
    from tokenizers import Tokenizer as HfTokenizer

    model = resolve_model(None, Settings().var_dir / "models")
    hf = HfTokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer = Tokenizer(hf, True, task="transcribe", language="de")
    foreign = set(other_script_tokens(tokenizer))
    assert len(foreign) == 7873 and max(foreign) < tokenizer.eot  # of 50257 text tokens
    for german in (" Straße", " Größe", " München", " Personalausweis", " Müll", " 5 µm"):
        assert not foreign & set(tokenizer.encode(german)), german
    for other in (" Привет", " مرحبا", " 你好"):
        assert foreign & set(tokenizer.encode(other)), other
