"""Group commit: requests taken together in one transaction, each answered as if taken alone.

Order intake (`service.place_orders`, for the API) and channel webhooks (`channels.webhooks`) both put
what arrives together through one transaction with `answer_each`; `batching.IntakeQueue` gathers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ordermesh.db import is_disconnect
from ordermesh.deadlines import Deadline
from ordermesh.errors import RequestExpired


class HasDeadline(Protocol):
    """A request that may have a deadline (an HTTP request's): past it, its work is not committed."""

    @property
    def deadline(self) -> Deadline | None: ...


R = TypeVar("R", bound=HasDeadline)
A = TypeVar("A")
Run = Callable[[Sequence[R]], list[A | Exception]]  # runs requests together, answering each


class Abandoned(Exception):
    """A request of the batch expired before its commit: the batch was rolled back."""


def settle(requests: Sequence[HasDeadline]) -> None:
    """Just before the commit: claim every request for it, or abandon the batch if one has expired.

    Every request is claimed (not only up to the first expired one): those claimed stay claimed, and
    are placed when the batch runs again without the expired ones.
    """
    settled = [request.deadline.settle() for request in requests if request.deadline is not None]
    if not all(settled):
        raise Abandoned


def answer_each(requests: Sequence[R], run: Run[R, A]) -> list[A | Exception]:
    """`run` the requests together (one transaction that calls `settle` before its commit); each gets
    its own answer.

    A request whose deadline passed is not run (RequestExpired): one that expires while its batch runs
    is found when the batch settles, and the batch is rolled back and run again without it. Should the
    batch fail as a whole for any other reason, each request is run on its own, so that one cannot sink
    the others (unless the database is gone: then every request hears why).
    """
    answers: dict[int, A | Exception] = {}
    while pending := [index for index in range(len(requests)) if index not in answers]:
        for index in pending:
            if (deadline := requests[index].deadline) is not None and deadline.passed():
                answers[index] = RequestExpired("the request's deadline passed before its work was committed")
        live = [index for index in pending if index not in answers]
        try:
            done = _together(run, [requests[index] for index in live])
        except Abandoned:
            continue  # the expired ones are answered above on the next round, the others run again
        answers.update(zip(live, done, strict=True))
    return [answers[index] for index in range(len(requests))]


def _together(run: Run[R, A], requests: Sequence[R]) -> list[A | Exception]:
    try:
        return run(requests)
    except Abandoned:
        raise
    except Exception as error:
        if len(requests) == 1 or is_disconnect(error):
            raise
        return [_alone(run, request) for request in requests]


def _alone(run: Run[R, A], request: R) -> A | Exception:
    try:
        return answer_each([request], run)[0]
    except Exception as error:  # answered to this request alone
        return error
