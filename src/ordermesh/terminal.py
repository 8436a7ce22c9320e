"""What the command line's commands share: the consoles, domain errors as messages, progress bars, and
the look-ups of the codes people type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import Session

console = Console()
err_console = Console(stderr=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a domain error into a readable message and exit code 1 instead of a traceback."""
    from ordermesh.errors import DomainError

    try:
        yield
    except DomainError as error:
        err_console.print(f"[bold red]error:[/] {error.detail}")
        for field_error in error.errors if len(error.errors) > 1 else []:
            err_console.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A progress bar on the error stream, so that stdout stays clean for piping."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        yield progress


def merchant_id_of(session: Session, code: str) -> int:
    from sqlalchemy import select

    from ordermesh.merchants.models import Merchant

    merchant_id = session.scalar(select(Merchant.id).where(Merchant.code == code))
    if merchant_id is None:
        raise typer.BadParameter(f"no merchant with code {code!r}", param_hint="--merchant")
    return merchant_id


def location_id_of(session: Session, code: str) -> int:
    from sqlalchemy import select

    from ordermesh.locations.models import Location

    location_id = session.scalar(select(Location.id).where(Location.code == code))
    if location_id is None:
        raise typer.BadParameter(f"no location with code {code!r}", param_hint="--location")
    return location_id
