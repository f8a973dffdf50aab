"""What the gateway's log configuration keeps out of the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from rathausbot.cli import _configure_logging
from rathausbot.settings import Settings

QUIETED = ("httpx", "httpcore", "aioice", "aiortc")


@pytest.fixture
def restore_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in QUIETED}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_ice_candidates_stay_out_of_debug_logs(restore_levels: None) -> None:
    _configure_logging(Settings(log_level="DEBUG"), quiet=False)
    # aioice logs every candidate pair (browsers' IP addresses) at INFO
    for name in QUIETED:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert not logging.getLogger("aioice.ice").isEnabledFor(logging.INFO)
