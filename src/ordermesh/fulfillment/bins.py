"""Bins and boxes of a location, and where units sit: put-away, taking units out to pick, putting back.

Bin quantities break a location's on_hand down by place; the ledger alone says how much there is, so the
units in bins never exceed on_hand (put-away of units already there checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.errors import Conflict, FieldError, NotFound
from ordermesh.fulfillment import CycleCountStatus
from ordermesh.fulfillment.models import Bin, BinStock, Box, CycleCountTask
from ordermesh.fulfillment.schemas import BinIn, BoxIn, CycleCountTaskOut
from ordermesh.inventory import service as inventory
from ordermesh.inventory.models import InventoryLevel
from ordermesh.paging import paginate


@dataclass(frozen=True)
class BinQuantity:
    bin_code: str
    pick_sequence: int
    merchant_id: int
    sku_id: int
    sku_code: str
    quantity: int


def create_bin(session: Session, *, location_id: int, data: BinIn) -> Bin:
    """Add a bin to a location; 409 when its code is taken there."""
    bin_ = Bin(location_id=location_id, code=data.code, pick_sequence=data.pick_sequence, active=True)
    _add_unique(session, bin_, f"bin {data.code!r} exists at this location already")
    return bin_


def list_bins(session: Session, *, location_id: int) -> Sequence[Bin]:
    """The location's bins in walking order."""
    return session.scalars(
        select(Bin).where(Bin.location_id == location_id).order_by(Bin.pick_sequence, Bin.code)
    ).all()


def create_box(session: Session, *, location_id: int, data: BoxIn) -> Box:
    """Add a box size to the location's catalogue; 409 when its code is taken there."""
    box = Box(location_id=location_id, active=True, **data.model_dump())
    _add_unique(session, box, f"box {data.code!r} exists at this location already")
    return box


def list_boxes(session: Session, *, location_id: int) -> Sequence[Box]:
    """The location's active boxes, smallest first."""
    boxes = session.scalars(select(Box).where(Box.location_id == location_id, Box.active)).all()
    return sorted(boxes, key=lambda b: (b.length_cm * b.width_cm * b.height_cm, b.code))


def get_bin(session: Session, *, location_id: int, code: str, field: str = "bin") -> Bin:
    bin_ = session.scalar(select(Bin).where(Bin.location_id == location_id, Bin.code == code))
    if bin_ is None:
        raise NotFound(f"bin {code!r} not found at this location", [FieldError(field, "unknown bin")])
    return bin_


def put_away(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    bin_code: str,
    quantity: int,
    receive: bool,
    reference: str | None,
    actor: str,
) -> list[BinQuantity]:
    """Put units in a bin: arriving ones (received through the ledger first) or unbinned ones on hand."""
    bin_ = get_bin(session, location_id=location_id, code=bin_code)
    if receive:
        inventory.receive(
            session,
            merchant_id=merchant_id,
            sku_id=sku_id,
            location_id=location_id,
            quantity=quantity,
            reference=reference,
            actor=actor,
            note=f"put away to bin {bin_code}",
        )
    else:
        unbinned = _on_hand(session, merchant_id, sku_id, location_id) - _binned(
            session, merchant_id, sku_id, location_id
        )
        if quantity > unbinned:
            raise Conflict(
                f"only {unbinned} units on hand are not in a bin yet; receive new units with receive=true",
                [FieldError("quantity", f"more than the {unbinned} unbinned units")],
            )
    add_to_bin(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=location_id,
        bin_id=bin_.id,
        quantity=quantity,
    )
    return bin_quantities(session, location_id=location_id, merchant_id=merchant_id, sku_ids=[sku_id])


def add_to_bin(
    session: Session, *, merchant_id: int, sku_id: int, location_id: int, bin_id: int, quantity: int
) -> None:
    session.execute(
        insert_ignoring_conflicts(session, BinStock).values(
            merchant_id=merchant_id,
            sku_id=sku_id,
            location_id=location_id,
            bin_id=bin_id,
            quantity=0,
            updated_at=utcnow(),
        )
    )
    stock = BinStock.__table__.c
    session.execute(
        update(BinStock)
        .where(stock.merchant_id == merchant_id, stock.sku_id == sku_id, stock.bin_id == bin_id)
        .values(quantity=stock.quantity + quantity, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def take_from_bins(
    session: Session, *, merchant_id: int, sku_id: int, location_id: int, quantity: int, bin_id: int | None
) -> int | None:
    """Take picked units out of bins (the one named, else in walking order); the bin taken from.

    Units the bins do not account for were on hand unbinned: the ledger, not the bins, says they exist.
    """
    rows = session.execute(
        select(BinStock, Bin.pick_sequence)
        .join(Bin, Bin.id == BinStock.bin_id)
        .where(
            BinStock.merchant_id == merchant_id,
            BinStock.sku_id == sku_id,
            BinStock.location_id == location_id,
            BinStock.quantity > 0,
        )
        .order_by((BinStock.bin_id != bin_id) if bin_id is not None else Bin.pick_sequence, Bin.pick_sequence)
    ).all()
    first: int | None = bin_id
    for stock, _sequence in rows:
        if quantity <= 0:
            break
        taken = min(stock.quantity, quantity)
        stock.quantity -= taken
        stock.updated_at = utcnow()
        quantity -= taken
        first = first if first is not None else stock.bin_id
    return first


def take_from_bin(session: Session, *, merchant_id: int, sku_id: int, bin_id: int, quantity: int) -> int:
    """Take up to `quantity` units off one bin's record (no other bin); how many it held of them."""
    stock = session.scalar(
        select(BinStock).where(
            BinStock.merchant_id == merchant_id, BinStock.sku_id == sku_id, BinStock.bin_id == bin_id
        )
    )
    if stock is None:
        return 0
    taken = min(stock.quantity, quantity)
    stock.quantity -= taken
    stock.updated_at = utcnow()
    return taken


def in_bin(session: Session, *, merchant_id: int, sku_id: int, bin_id: int) -> int:
    """Units of a SKU the bin's record holds."""
    return int(
        session.scalar(
            select(BinStock.quantity).where(
                BinStock.merchant_id == merchant_id, BinStock.sku_id == sku_id, BinStock.bin_id == bin_id
            )
        )
        or 0
    )


def bin_quantities(
    session: Session, *, location_id: int, merchant_id: int | None, sku_ids: Iterable[int] | None = None
) -> list[BinQuantity]:
    """What sits in the location's bins, in walking order."""
    statement = (
        select(
            Bin.code, Bin.pick_sequence, BinStock.merchant_id, BinStock.sku_id, Sku.code, BinStock.quantity
        )
        .join(Bin, Bin.id == BinStock.bin_id)
        .join(Sku, Sku.id == BinStock.sku_id)
        .where(BinStock.location_id == location_id, BinStock.quantity > 0)
        .order_by(Bin.pick_sequence, Bin.code, Sku.code)
    )
    if merchant_id is not None:
        statement = statement.where(BinStock.merchant_id == merchant_id)
    if sku_ids is not None:
        statement = statement.where(BinStock.sku_id.in_(list(sku_ids)))
    return [BinQuantity(*row) for row in session.execute(statement)]


def primary_bins(session: Session, *, location_id: int, sku_ids: Iterable[int]) -> dict[tuple[int, int], Bin]:
    """For each (merchant, sku), the first bin along the walk that holds some of it."""
    rows = session.execute(
        select(BinStock.merchant_id, BinStock.sku_id, Bin)
        .join(Bin, Bin.id == BinStock.bin_id)
        .where(BinStock.location_id == location_id, BinStock.sku_id.in_(list(sku_ids)), BinStock.quantity > 0)
        .order_by(Bin.pick_sequence, Bin.code)
    ).all()
    first: dict[tuple[int, int], Bin] = {}
    for merchant_id, sku_id, bin_ in rows:
        first.setdefault((merchant_id, sku_id), bin_)
    return first


def _on_hand(session: Session, merchant_id: int, sku_id: int, location_id: int) -> int:
    level = InventoryLevel.__table__.c
    return int(
        session.scalar(
            select(level.on_hand).where(
                level.merchant_id == merchant_id, level.sku_id == sku_id, level.location_id == location_id
            )
        )
        or 0
    )


def _binned(session: Session, merchant_id: int, sku_id: int, location_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(BinStock.quantity), 0)).where(
                BinStock.merchant_id == merchant_id,
                BinStock.sku_id == sku_id,
                BinStock.location_id == location_id,
            )
        )
        or 0
    )


def _add_unique(session: Session, row: Bin | Box, message: str) -> None:
    # A savepoint turns a concurrent duplicate into a clean 409 instead of a failed transaction.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(message) from None


def cycle_count_tasks(
    session: Session, *, location_id: int, status: CycleCountStatus | None, limit: int, cursor: str | None
) -> tuple[list[CycleCountTaskOut], str | None]:
    """A page of the location's cycle count tasks (of one status, or all), oldest first."""
    statement = select(CycleCountTask).where(CycleCountTask.location_id == location_id)
    if status is not None:
        statement = statement.where(CycleCountTask.status == status.value)
    tasks, next_cursor = paginate(session, statement, CycleCountTask.id, limit=limit, cursor=cursor)
    return tasks_out(session, tasks), next_cursor


def tasks_out(session: Session, tasks: Sequence[CycleCountTask]) -> list[CycleCountTaskOut]:
    bin_ids, sku_ids = {t.bin_id for t in tasks}, {t.sku_id for t in tasks}
    bin_codes = dict(session.execute(select(Bin.id, Bin.code).where(Bin.id.in_(bin_ids))).all())
    sku_codes = dict(session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(sku_ids))).all())
    return [
        CycleCountTaskOut(
            id=t.id,
            location_id=t.location_id,
            bin=bin_codes[t.bin_id],
            merchant_id=t.merchant_id,
            sku_id=t.sku_id,
            sku=sku_codes[t.sku_id],
            fulfillment_order_id=t.fulfillment_order_id,
            status=t.status,
            reason=t.reason,
            created_by=t.created_by,
            created_at=t.created_at,
            recorded_quantity=t.recorded_quantity,
            counted_quantity=t.counted_quantity,
            counted_by=t.counted_by,
            counted_at=t.counted_at,
        )
        for t in tasks
    ]


def complete_cycle_count(
    session: Session, *, location_id: int, task_id: int, counted_quantity: int, actor: str
) -> CycleCountTask:
    """Record a bin's count: the bin's record becomes what was counted and the location's on_hand moves
    by the difference (ledger `adjust`, which re-routes or serves backorders as any adjustment does);
    409 once counted."""
    task = session.scalar(
        select(CycleCountTask).where(CycleCountTask.id == task_id, CycleCountTask.location_id == location_id)
    )
    if task is None:
        raise NotFound(f"cycle count task {task_id} not found")
    if task.status != CycleCountStatus.open:
        raise Conflict(f"cycle count task {task.id} is {task.status}")
    bin_ = session.get(Bin, task.bin_id)
    assert bin_ is not None
    recorded = in_bin(session, merchant_id=task.merchant_id, sku_id=task.sku_id, bin_id=task.bin_id)
    delta = counted_quantity - recorded
    if delta:
        inventory.adjust(
            session,
            merchant_id=task.merchant_id,
            sku_id=task.sku_id,
            location_id=location_id,
            delta=delta,
            reason_note=f"cycle count of bin {bin_.code}: {counted_quantity} found, {recorded} on record",
            reference=f"cycle_count:{task.id}",
            actor=actor,
        )
        if delta > 0:
            add_to_bin(
                session,
                merchant_id=task.merchant_id,
                sku_id=task.sku_id,
                location_id=location_id,
                bin_id=task.bin_id,
                quantity=delta,
            )
        else:
            take_from_bin(
                session, merchant_id=task.merchant_id, sku_id=task.sku_id, bin_id=task.bin_id, quantity=-delta
            )
    task.status = CycleCountStatus.done.value
    task.recorded_quantity, task.counted_quantity = recorded, counted_quantity
    task.counted_by, task.counted_at = actor, utcnow()
    session.flush()
    return task
