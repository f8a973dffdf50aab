"""Proposed training examples from the "Nicht verstanden" inbox, written to a review file
(`intents/data/review/proposed_nlu.yml`, Rasa NLU YAML) that an operator checks.

`rathausbot train` leaves `data/review/` out (rathausbot/training.py), so nothing proposed
changes the model until the operator moves the checked examples into the training data
and trains. The file is rewritten whole (write to a temporary file, then rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

REVIEW_DIR = Path("data") / "review"
REVIEW_FILE = REVIEW_DIR / "proposed_nlu.yml"
MAX_EXAMPLES = 1000
MAX_EXAMPLE_CHARS = 200
HEADER = (
    '# Vorgeschlagene Trainingsbeispiele aus der Konsole ("Nicht verstanden").\n'
    "# Nicht im Training: `rathausbot train` liest data/review/ nicht. Prüfen Sie jedes\n"
    "# Beispiel, übernehmen Sie die richtigen nach data/ (z. B. data/nlu.yml) und trainieren\n"
    "# Sie dann mit `rathausbot train`. Siehe docs/console.md.\n"
)
FORBIDDEN = re.compile(r"[\[\]{}()#\n\r\t]")


class ExampleRefused(ValueError):
    """The example cannot be proposed; the message says why, in German."""


def check_example(text: str) -> str:
    """The cleaned example, or ExampleRefused (empty, too long, placeholders left)."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ExampleRefused("Das Beispiel ist leer.")
    if len(cleaned) > MAX_EXAMPLE_CHARS:
        raise ExampleRefused(f"Das Beispiel hat mehr als {MAX_EXAMPLE_CHARS} Zeichen.")
    if FORBIDDEN.search(cleaned):
        raise ExampleRefused(
            "Bitte ersetzen Sie Platzhalter wie [Name] oder # durch Beispielwörter; "
            "Klammern und # sind in Beispielen nicht erlaubt."
        )
    return cleaned


class ReviewFile:
    """The review file of one Rasa project; `intents` is the domain's closed set."""

    def __init__(self, intents_dir: Path, *, intents: Iterable[str]) -> None:
        self._path = intents_dir / REVIEW_FILE
        self._intents = frozenset(intents)

    @property
    def path(self) -> Path:
        return self._path

    def proposals(self) -> dict[str, list[str]]:
        """The proposed examples per intent (empty when there is no file yet)."""
        if not self._path.exists():
            return {}
        data = yaml.safe_load(self._path.read_text(encoding="utf-8")) or {}
        found: dict[str, list[str]] = {}
        for entry in data.get("nlu", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("intent"), str):
                lines = str(entry.get("examples", "")).splitlines()
                found[entry["intent"]] = [ln[2:] for ln in lines if ln.startswith("- ")]
        return found

    def propose(self, intent: str, text: str) -> bool:
        """Adds the example; False if it was already proposed. ExampleRefused for an
        intent outside the domain, a bad example, or a full file."""
        if intent not in self._intents:
            raise ExampleRefused("Diesen Intent gibt es nicht.")
        example = check_example(text)
        proposals = self.proposals()
        if example in proposals.get(intent, []):
            return False
        if sum(len(v) for v in proposals.values()) >= MAX_EXAMPLES:
            raise ExampleRefused(
                f"Die Prüfdatei hat schon {MAX_EXAMPLES} Beispiele; bitte erst prüfen."
            )
        proposals.setdefault(intent, []).append(example)
        self._write(render(proposals))
        return True

    def _write(self, text: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def render(proposals: dict[str, list[str]]) -> str:
    """Rasa NLU YAML (format 3.1) of the proposals, intents sorted."""
    lines = [HEADER, 'version: "3.1"', "nlu:"]
    for intent in sorted(proposals):
        if not proposals[intent]:
            continue
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in proposals[intent]]
    if lines[-1] == "nlu:":
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"
