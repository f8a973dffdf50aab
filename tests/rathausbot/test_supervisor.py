from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rathausbot.supervisor import ProcessSpec, SupervisedProcess


async def test_a_crashed_child_is_restarted_and_stop_ends_it(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    # Each start appends a line, then the child lives until killed.
    script = f"open({str(starts)!r}, 'a').write('x\\n'); import time; time.sleep(60)"
    spec = ProcessSpec("sleeper", (sys.executable, "-c", script), tmp_path / "log" / "s.log")

    async def probe() -> bool:
        return starts.exists()

    process = SupervisedProcess(spec, probe, backoff_initial_s=0.05)
    task = asyncio.create_task(process.run())
    assert await process.wait_ready(10)
    first_pid = process.pid
    process.kill()
    async with asyncio.timeout(10):
        while process.pid in (None, first_pid) or starts.read_text().count("x") < 2:
            await asyncio.sleep(0.02)
    assert process.restarts == 1
    await process.stop()
    assert process.pid is None
    await asyncio.wait_for(task, 5)
    assert starts.read_text().count("x") == 2


async def test_wait_ready_gives_up_when_the_probe_never_answers(tmp_path: Path) -> None:
    spec = ProcessSpec(
        "idle", (sys.executable, "-c", "import time; time.sleep(60)"), tmp_path / "idle.log"
    )

    async def never() -> bool:
        return False

    process = SupervisedProcess(spec, never)
    task = asyncio.create_task(process.run())
    assert not await process.wait_ready(0.3)
    await process.stop()
    await asyncio.wait_for(task, 5)
