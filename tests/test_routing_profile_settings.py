"""A routing profile's settings need their policy: sent without it they are refused (422 naming the
field) instead of being stored and silently ignored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.routing.cost import DEFAULT_ZONES
from ordermesh.routing.models import RoutingProfile
from ordermesh.routing.profiles import settings_cache, zone_to_json
from tests.orders_support import order_body
from tests.world import World


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"excluded_locations": ["NJ1"]}, "excluded_locations"),
        ({"ranked_locations": ["TX1", "NJ1"]}, "ranked_locations"),
        ({"max_packages": 1}, "max_packages"),
        ({"policies": ["closest"], "excluded_locations": ["NJ1"]}, "excluded_locations"),
    ],
)
def test_a_setting_without_its_policy_is_refused(
    client: TestClient, world: World, body: dict, field: str
) -> None:
    response = client.put("/v1/routing/profile", json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == [field]
    assert "policy" in problem["errors"][0]["message"]
    assert client.get("/v1/routing/profile", headers=world.acme).json()["is_default"] is True


def test_a_setting_stored_earlier_without_its_policy_does_not_break_routing(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        session.add(
            RoutingProfile(
                merchant_id=world.acme_id,
                policies=["minimise_packages", "lowest_cost", "closest"],
                rate_card=[zone_to_json(zone) for zone in DEFAULT_ZONES],
                dim_divisor=5000,
                handling_cost="1.25",
                split_penalty="2.00",
                ranked_location_ids=[],
                excluded_location_ids=[world.locations["NJ1"]],
                max_packages=None,
            )
        )
    settings_cache.forget(world.acme_id)  # the profile was written behind the API's back
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme)
    assert order.status_code == 201, order.text
    assert order.json()["fulfillment_orders"][0]["location_id"] == world.locations["NJ1"]
