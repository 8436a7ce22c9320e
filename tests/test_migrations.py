"""The migrations: one history with one head, shipped inside the package, so that an installed wheel
migrates a new database with no checkout around it."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ordermesh.migrate import MIGRATIONS, alembic_config, upgrade

ROOT = Path(__file__).resolve().parents[1]


def _heads() -> tuple[str, ...]:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()


def test_the_history_has_one_head_and_upgrade_goes_to_it(engine: Engine) -> None:
    (head,) = _heads()
    assert inspect.signature(upgrade).parameters["revision"].default == "head"
    # The test database was made by upgrade(url) with its default revision (tests/conftest.py).
    with engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    assert versions == [head]


def test_the_migrations_live_in_the_package() -> None:
    assert MIGRATIONS == ROOT / "src" / "ordermesh" / "migrations"
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert not (ROOT / "migrations").exists()


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel offline with the development environment's setuptools, from a copy of the sources so
    that the build's leftovers (build/, *.egg-info) stay out of the checkout."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source, cwd=tmp_path)
    (wheel,) = dist.glob("ordermesh-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new virtual environment holding the wheel alone; its dependencies come from the development
    environment's site-packages, added by a .pth file (which does not run that environment's own .pth files,
    so the editable install of the checkout stays out)."""
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python)
    _run(*pip, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    site_packages = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    )
    (Path(site_packages.strip()) / "ordermesh-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv


def test_an_installed_wheel_migrates_a_new_database(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("ordermesh/migrations/")}
    expected = {
        "ordermesh/" + path.relative_to(MIGRATIONS.parent).as_posix()
        for path in MIGRATIONS.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped == expected
    assert "ordermesh/migrations/script.py.mako" in shipped  # what `alembic revision` writes from

    venv = _fresh_venv(tmp_path, wheel)
    workdir = tmp_path / "elsewhere"  # no checkout, no alembic.ini
    workdir.mkdir()
    database = workdir / "fresh.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERMESH_", "PYTHON"))}
    env["ORDERMESH_DATABASE_URL"] = f"sqlite:///{database}"

    imported = _run(
        venv / "bin" / "python", "-c", "import ordermesh; print(ordermesh.__file__)", cwd=workdir, env=env
    )
    assert Path(imported.strip()).is_relative_to(venv)
    _run(venv / "bin" / "ordermesh", "migrate", cwd=workdir, env=env)

    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    finally:
        engine.dispose()
    assert {"merchant", "sku", "order", "inventory_level", "inventory_movement", "api_key"} <= tables
    assert versions == list(_heads())
