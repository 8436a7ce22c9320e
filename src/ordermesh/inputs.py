"""What every input obeys, whatever the route: ids, text, times and the shape of a JSON body.

One rule each, used by path and query parameters, request bodies and the cursor decoder alike, so that
hostile input is refused with a 422 naming the field before it reaches the database.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

from ordermesh.errors import FieldError, FieldValueError, Invalid, field_error


def _not_bool(value: Any) -> Any:
    # Pydantic would take true and false for 1 and 0: a number must be sent as a number.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


# Put last in an Annotated number (after its bounds, which must come first to be published in the schema).
NotBool = BeforeValidator(_not_bool)

# Ids are 64-bit signed integers on both databases; nothing outside 1..MAX_ID can name a row.
MAX_ID = 2**63 - 1
Id = Annotated[int, Ge(1), Le(MAX_ID), NotBool]

# How deep a JSON body may nest; no payload of this API comes near it.
MAX_DEPTH = 32

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character"


SURROGATE_MESSAGE = "must be valid Unicode text (no lone surrogate escapes)"


def has_nul(value: str) -> bool:
    return NUL in value


def text_fault(value: str) -> str | None:
    """Why the databases cannot store this text (a NUL; a lone surrogate, which has no UTF-8), or None."""
    if has_nul(value):
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def body_fault(data: Any) -> tuple[str, str] | None:
    """The first (field path, message) that makes a decoded JSON body unfit for any model, or None.

    Walks iteratively, so that no depth of nesting can exhaust the stack.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return ".".join(path[:MAX_DEPTH]), f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, str):
            if (fault := text_fault(value)) is not None:
                return ".".join(path), fault
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (fault := text_fault(key)) is not None:
                    return ".".join((*path, key.encode("unicode_escape").decode())), fault
                stack.append((item, (*path, str(key))))
        elif isinstance(value, list | tuple):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
    return None


# True while a body's outermost model is validated: the models nested in it skip the walk it made.
_walked: ContextVar[bool] = ContextVar("walked", default=False)


class Input(BaseModel):
    """The base of every request body: unknown fields are refused, and so is text the database cannot hold."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _storable(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if _walked.get():
            return handler(data)
        fault = body_fault(data)
        if fault is not None:
            raise FieldValueError(*fault)
        token = _walked.set(True)
        try:
            return handler(data)
        finally:
            _walked.reset(token)


def _iso_only(value: Any) -> Any:
    # Pydantic would read a number (or a numeric string) as seconds since 1970: a time must be ISO-8601.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value[:4].isdigit() or len(value) < 10 or value[4] != "-":
        raise ValueError("not an ISO-8601 date and time")
    return value


def _in_range(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of the range of dates") from None


# An ISO-8601 time with its offset, as UTC; numbers and times that overflow in UTC are refused.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_range)]

# An ISO-8601 day (2026-01-05); numbers are refused.
Day = Annotated[date, BeforeValidator(_iso_only)]


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any) -> M:
    """`data` as `model`, or Invalid naming each field as the API reports it (for input that does not
    come through FastAPI: the dashboard's forms, the command line)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        entries = [field_error(e) for e in error.errors()]
        raise Invalid.of([FieldError(e["field"], e["message"]) for e in entries]) from None
