"""Trains the Rasa model when `intents/` changed; the model's name is its inputs' hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from rathausbot.services import rasa_environment, rasa_python
from rathausbot.settings import Settings

# What the trained model depends on (actions and knowledge are read at run time).
MODEL_INPUTS = ("config.yml", "domain", "data")
# Proposed examples from the console wait here for review; never trained (docs/console.md).
REVIEW_DIR = "data/review"


class TrainingFailed(RuntimeError):
    pass


def model_hash(intents_dir: Path) -> str:
    """Hash of the model's inputs: paths and contents, in a stable order."""
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        root = intents_dir / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if in_review(path, intents_dir):
                continue
            if path.suffix not in {".yml", ".yaml", ".txt", ".json"}:
                continue
            digest.update(path.relative_to(intents_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def in_review(path: Path, intents_dir: Path) -> bool:
    return path.relative_to(intents_dir).as_posix().startswith(REVIEW_DIR + "/")


def training_data(intents_dir: Path) -> list[str]:
    """The training data paths for `rasa train --data`, relative to `intents_dir`: the
    entries of data/ except the review folder."""
    data = intents_dir / "data"
    return sorted(
        p.relative_to(intents_dir).as_posix()
        for p in data.iterdir()
        if p.relative_to(intents_dir).as_posix() != REVIEW_DIR
    )


def models_dir(intents_dir: Path) -> Path:
    return intents_dir / "models"


def model_path(intents_dir: Path) -> Path:
    """Where the model for the current `intents/` is (it may not exist yet)."""
    return models_dir(intents_dir) / f"{model_hash(intents_dir)}.tar.gz"


def train(settings: Settings, *, echo: Callable[[str], None] = print, force: bool = False) -> Path:
    """Trains unless a model for the current inputs exists; returns the model's path."""
    target = model_path(settings.intents_dir)
    if target.exists() and not force:
        echo(f"Model is up to date ({target}); nothing to train.")
        return target
    python = rasa_python(settings)
    if not python.exists():
        raise TrainingFailed(f"{python} not found: run `make setup` first")
    echo(f"Training the Rasa model from {settings.intents_dir}/ (about a minute or two) ...")
    started = time.monotonic()
    result = subprocess.run(
        [
            str(python),
            "-m",
            "rasa",
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain",
            "--data",
            *training_data(settings.intents_dir),
            "--out",
            "models",
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
        ],
        cwd=settings.intents_dir,
        env={**os.environ, **rasa_environment(settings)},
        check=False,
    )
    if result.returncode != 0 or not target.exists():
        raise TrainingFailed(f"rasa train failed with exit code {result.returncode}")
    for old in models_dir(settings.intents_dir).glob("*.tar.gz"):
        if old != target:
            old.unlink()
    echo(f"Model trained in {time.monotonic() - started:.0f} s: {target}")
    return target
