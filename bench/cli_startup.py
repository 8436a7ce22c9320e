"""Command-line start-up: how long `ordermesh --help` and `ordermesh keys list` take, each run as a whole
process, as a person typing them would wait.

    .venv/bin/python bench/cli_startup.py [--runs 9]

Both run against an empty SQLite database in a temporary directory, migrated first (not timed). One
untimed run of each warms the file cache and writes the bytecode; then each command runs --runs times and
the median wall time is its figure (target: under 0.3 s each); the median CPU time (user + system) of
the process is printed beside it, as it depends far less on what else the machine runs.

Each command imports what it uses in its own body (ordermesh/cli.py), so these two load neither the API,
the services, NumPy nor SciPy; what is left is shown by
`python -X importtime .venv/bin/ordermesh keys list`.

For reference (no verdict) it also times, the same way, a Python that only imports what `keys list`
cannot do without: Typer with the module that validates its parameters through Pydantic
(`typer._adapters`), Rich's table and SQLAlchemy's ORM. On a machine other work shares, all figures grow
together; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_SECONDS = 0.3
COMMANDS = (("ordermesh --help", ("--help",)), ("ordermesh keys list", ("keys", "list")))
FLOOR = "import typer, typer._adapters, rich.console, rich.table, sqlalchemy.orm"


def ordermesh_command() -> Path:
    """The `ordermesh` script installed beside this Python (the project's .venv)."""
    script = Path(sys.executable).parent / "ordermesh"
    if not script.exists():
        raise SystemExit(f"no ordermesh command beside {sys.executable}: run `make install` first")
    return script


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds from start to exit
    cpu: float  # seconds of CPU (user + system) the process used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], env: dict[str, str], cwd: Path) -> Timing:
    """How long one whole process takes, from start to exit; it must succeed."""
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    timing = Timing(time.perf_counter() - started, _children_cpu() - cpu_before)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")
    return timing


def timed(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> list[Timing]:
    """`runs` runs of the command, after one untimed run."""
    run(command, env, cwd)  # warm-up: bytecode written, files cached
    return [run(command, env, cwd) for _ in range(runs)]


def describe(label: str, timings: list[Timing]) -> str:
    walls = [t.wall for t in timings]
    return (
        f"{label:<22} median {statistics.median(walls):.3f} s over {len(walls)} runs "
        f"(min {min(walls):.3f}, max {max(walls):.3f}; CPU {statistics.median(t.cpu for t in timings):.3f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each command (default 9)")
    args = parser.parse_args(argv)

    script = ordermesh_command()
    with tempfile.TemporaryDirectory(prefix="ordermesh-cli-bench-") as directory:
        workdir = Path(directory)
        env = {
            **os.environ,
            "ORDERMESH_DATABASE_URL": f"sqlite:///{workdir / 'ordermesh.db'}",
            "COLUMNS": "120",
        }
        run([str(script), "migrate"], env, workdir)
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        all_met = True
        for label, command_args in COMMANDS:
            timings = timed([str(script), *command_args], env, workdir, args.runs)
            met = statistics.median(t.wall for t in timings) < TARGET_SECONDS
            all_met = all_met and met
            print(f"{describe(label, timings)}; target < {TARGET_SECONDS} s: {'PASS' if met else 'MISS'}")
        floor = timed([sys.executable, "-c", FLOOR], env, workdir, args.runs)
        print(f"{describe('reference', floor)}: python -c '{FLOOR}'")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
