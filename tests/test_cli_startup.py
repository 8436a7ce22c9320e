"""`ordermesh --help` and small commands start without loading the API, the services, NumPy or SciPy:
each command imports what it uses in its own body. (bench/cli_startup.py times them.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ORDERMESH = Path(sys.executable).parent / "ordermesh"
HEAVY = ("numpy", "scipy", "fastapi", "uvicorn", "ordermesh.app")
# Domains whose package holds only their enums (the CLI's options name them): their modules stay unloaded.
SERVICES = (
    "ordermesh.orders.",
    "ordermesh.routing.",
    "ordermesh.inventory.",
    "ordermesh.channels.connections",
)


def _imported(*args: str, cwd: Path, database: Path) -> set[str]:
    """The modules a whole `ordermesh <args>` process imported (from -X importtime), after it succeeded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERMESH_")}
    env["ORDERMESH_DATABASE_URL"] = f"sqlite:///{database}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ORDERMESH), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _heavy(modules: set[str]) -> set[str]:
    heavy = {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}
    return heavy | {m for m in modules if m.startswith(SERVICES)}


@pytest.mark.parametrize("args", [("--help",), ("keys", "list"), ("channels", "--help")])
def test_small_commands_load_no_service_numpy_or_scipy(args: tuple[str, ...], tmp_path: Path) -> None:
    database = tmp_path / "ordermesh.db"
    _imported("migrate", cwd=tmp_path, database=database)
    modules = _imported(*args, cwd=tmp_path, database=database)
    assert "ordermesh.cli" in modules
    assert _heavy(modules) == set()
