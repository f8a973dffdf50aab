from __future__ import annotations

import shutil
from pathlib import Path

from rathausbot.training import model_hash


def copy_project(repo_root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "intents"
    shutil.copytree(repo_root / "intents", target, ignore=shutil.ignore_patterns("models"))
    return target


def test_the_model_hash_follows_training_inputs_only(repo_root: Path, tmp_path: Path) -> None:
    project = copy_project(repo_root, tmp_path)
    original = model_hash(project)
    assert model_hash(project) == original
    (project / "actions" / "__init__.py").write_text("# changed\n")
    (project / "knowledge" / "departments.yml").write_text("changed: true\n")
    assert model_hash(project) == original, "actions and knowledge are read at run time"
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text() + "\n# changed\n")
    assert model_hash(project) != original
