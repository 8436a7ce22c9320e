"""Routing: which locations ship which quantities of an order, at what cost, promised for when.

The rule modules (cost, policies, promise, solver) are pure: no database, no web. The enums below import
nothing, so any domain above routing (orders, carriers, fulfillment, channels) may use them.
"""

from enum import StrEnum


class Policy(StrEnum):
    """A merchant's routing rules, applied in the order the merchant lists them."""

    ship_complete = "ship_complete"  # one package for the whole order when any location can
    minimise_packages = "minimise_packages"  # fewest packages (split shipments cost and annoy)
    lowest_cost = "lowest_cost"  # cheapest by the merchant's rate card, handling and split penalty
    closest = "closest"  # shortest total distance from the shipping locations
    ranked_locations = "ranked_locations"  # the merchant's priority list of locations
    same_country = "same_country"  # ship from the destination's country (no customs)
    exclude_locations = "exclude_locations"  # a constraint: never ship from these locations
    max_packages = "max_packages"  # a constraint: at most N packages; the rest is backordered


class ServiceLevel(StrEnum):
    """How fast an order travels once it ships: it prices the package and sets the promised date."""

    standard = "standard"  # ground: the zone's own transit days, the cheapest; the default
    expedited = "expedited"  # at most 3 business days in transit
    two_day = "two_day"  # at most 2 business days in transit
    overnight = "overnight"  # the next business day


# Constraints filter plans wherever they sit in the list; the others break ties in list order.
CONSTRAINTS = frozenset({Policy.exclude_locations, Policy.max_packages})
DEFAULT_POLICIES = (Policy.minimise_packages, Policy.lowest_cost, Policy.closest)
