"""Planning: demand forecasts and replenishment suggestions.

The rule modules (forecast.py, replenishment.py) are pure: no database, no web; they are tested on plain
data. The enums below import nothing, so the command line may name them without loading NumPy.
"""

from enum import StrEnum


class DemandClass(StrEnum):
    """A series' demand pattern (Syntetos-Boylan), by its average inter-demand interval and CV²."""

    smooth = "smooth"  # demand most days, sizes alike: exponential smoothing
    erratic = "erratic"  # demand most days, sizes vary widely: exponential smoothing
    intermittent = "intermittent"  # many days without demand, sizes alike: Croston-type models
    lumpy = "lumpy"  # many days without demand, sizes vary widely: Croston-type models
    none = "none"  # no demand at all in the history: a forecast of zero


class ExceptionKind(StrEnum):
    """What a planner must look at for a SKU at a location, most urgent first."""

    stocked_out = "stocked_out"  # nothing available while demand is forecast
    will_stock_out = "will_stock_out"  # runs out before an order placed today could arrive
    below_reorder_point = "below_reorder_point"  # time to order
    excess = "excess"  # more stock than the order-up-to level and the excess cover allow
    dead_stock = "dead_stock"  # stock that has not sold for the dead-stock period
