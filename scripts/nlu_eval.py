"""Evaluates the trained model on a held-out NLU set (German: intents/tests/nlu_holdout.yml,
English: intents/tests/nlu_holdout_en.yml, chosen with --holdout).

Prints the intent weighted F1 and every confusion pair; exits 1 below the threshold.
Run by `make test` (with the gateway's Python; Rasa runs in .venv-rasa).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INTENTS = REPO / "intents"
HOLDOUT = "tests/nlu_holdout.yml"


def confusion_pairs(report: dict[str, object]) -> list[tuple[str, str, int]]:
    """(true intent, predicted intent, count), most frequent first."""
    pairs = []
    for intent, figures in report.items():
        if isinstance(figures, dict):
            for predicted, count in (figures.get("confused_with") or {}).items():
                pairs.append((intent, str(predicted), int(count)))
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-f1", type=float, default=0.95)
    parser.add_argument("--holdout", default=HOLDOUT, help="the held-out set, relative to intents/")
    args = parser.parse_args()
    holdout = args.holdout

    sys.path.insert(0, str(REPO))
    from rathausbot.services import rasa_environment
    from rathausbot.settings import Settings
    from rathausbot.training import model_path

    settings = Settings(intents_dir=INTENTS, rasa_venv=REPO / ".venv-rasa")
    model = model_path(INTENTS)
    if not model.exists():
        print(f"no trained model {model}: run `make train` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="nlu-eval-") as out:
        result = subprocess.run(
            [
                str(REPO / ".venv-rasa" / "bin" / "rasa"),
                "test",
                "nlu",
                "--nlu",
                holdout,
                "--model",
                str(model),
                "--out",
                out,
            ],  # fmt: skip
            cwd=INTENTS,
            env={**os.environ, **rasa_environment(settings)},
            capture_output=True,
            text=True,
            check=False,
        )
        report_path = Path(out) / "intent_report.json"
        if result.returncode != 0 or not report_path.exists():
            print(result.stdout[-3000:] + result.stderr[-3000:], file=sys.stderr)
            print(f"rasa test nlu failed with exit code {result.returncode}", file=sys.stderr)
            return 1
        report = json.loads(report_path.read_text(encoding="utf-8"))
    weighted = report["weighted avg"]
    f1 = float(weighted["f1-score"])
    print(f"NLU held-out evaluation ({weighted['support']} utterances, {holdout}):")
    print(f"  intent weighted F1 = {f1:.3f} (minimum {args.min_f1:.2f})")
    pairs = confusion_pairs(report)
    print("  confusion pairs (true -> predicted: count):" if pairs else "  no confusions")
    for true, predicted, count in pairs:
        print(f"    {true} -> {predicted}: {count}")
    if f1 < args.min_f1:
        print(f"FAILED: intent weighted F1 {f1:.3f} is below {args.min_f1:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
