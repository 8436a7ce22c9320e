"""Returns (RMA): authorized for shipped lines, received at a location, inspected per unit, refunded."""

from enum import StrEnum


class ReturnStatus(StrEnum):
    authorized = "authorized"  # the customer may send the units back
    received = "received"  # the parcel arrived at a location; units await inspection
    inspected = "inspected"  # every received unit was restocked or disposed of
    refunded = "refunded"  # the refund amount is recorded


class ReturnReason(StrEnum):
    damaged = "damaged"
    defective = "defective"
    wrong_item = "wrong_item"
    not_as_described = "not_as_described"
    size_or_fit = "size_or_fit"
    no_longer_needed = "no_longer_needed"
    other = "other"


class Disposition(StrEnum):
    restock = "restock"  # back on the shelf: on_hand up (ledger reason `return`)
    dispose = "dispose"  # cannot be resold: recorded in the ledger (reason `disposed`), on_hand unchanged
