"""The department knowledge that the handoff action reads (no Rasa needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contract.knowledge import KnowledgeError, load_directory, spoken_phone_number


def test_the_shipped_departments_load(repo_root: Path) -> None:
    directory = load_directory(repo_root / "intents" / "knowledge")
    assert directory.default.id == "buergerbuero"
    assert directory.resolve("standes amt").id == "standesamt"
    assert directory.resolve("Einwohnermeldeamt").id == "buergerbuero"
    assert directory.resolve(None) == directory.default


def test_phone_numbers_are_spoken_digit_by_digit() -> None:
    spoken = spoken_phone_number("01234 567-100")
    assert spoken.startswith("null eins zwei drei vier")
    assert not any(ch.isdigit() for ch in spoken)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["departments"][0].update(phone="call me"), "phone"),
        (lambda d: d["departments"][0].update(url="http://x"), "https://"),
        (lambda d: d.update(default_department="nowhere"), "default_department"),
        (lambda d: d["departments"][0].update(colour="blue"), "unknown field"),
        (lambda d: d["departments"][1].update(synonyms=["Bürgeramt"]), "names both"),
    ],
)
def test_mistakes_in_the_file_are_named(
    repo_root: Path, tmp_path: Path, change: object, message: str
) -> None:
    source = repo_root / "intents" / "knowledge" / "departments.yml"
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    change(document)  # type: ignore[operator]
    (tmp_path / "departments.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_directory(tmp_path)
