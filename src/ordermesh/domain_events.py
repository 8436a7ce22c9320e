"""In-process domain events: how a domain tells the domains above it that something happened, in the same
transaction, without importing them.

A domain declares the events it publishes (frozen dataclasses, in its own `events.py`) and calls
`publish(session, event)` after its own change. `ordermesh.reactions`, the one module above every domain,
says what each event sets off in the others (`reactions.HANDLERS`); it is loaded by its name the first
time a process publishes anything, so no domain imports it and no entry point can forget it. A handler
runs in the publisher's transaction: the reaction commits or rolls back with the change that caused it.
An event nothing handles is a programming error and raises.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], None]

REACTIONS_MODULE = "ordermesh.reactions"

_handlers: Mapping[type, tuple[Handler, ...]] | None = None
_loading = threading.Lock()


def publish(session: Session, event: object) -> None:
    """Run every reaction to `event` in the caller's transaction, in the order `reactions` lists them."""
    handlers = _reactions().get(type(event))
    if not handlers:
        raise LookupError(f"no reaction handles {type(event).__name__}: list it in {REACTIONS_MODULE}")
    for handler in handlers:
        handler(session, event)


def _reactions() -> Mapping[type, tuple[Handler, ...]]:
    global _handlers
    if _handlers is None:
        with _loading:
            if _handlers is None:
                _handlers = importlib.import_module(REACTIONS_MODULE).HANDLERS
    return _handlers
