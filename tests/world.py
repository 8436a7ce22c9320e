"""A small, realistic world for tests, built through our own models and ledger (nothing mocked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from ordermesh.auth import create_api_key
from ordermesh.catalog.models import Sku
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant

# (code, name, city, region, postal code, latitude, longitude, time zone)
LOCATIONS = [
    ("NJ1", "Edison DC", "Edison", "NJ", "08817", 40.5187, -74.3932, "America/New_York"),
    ("TX1", "Dallas DC", "Dallas", "TX", "75201", 32.7876, -96.7994, "America/Chicago"),
    ("NV1", "Reno DC", "Reno", "NV", "89502", 39.4975, -119.7761, "America/Los_Angeles"),
]

# A shipping address per region, for orders in tests.
ADDRESS_NYC = {
    "name": "Ada Lovelace",
    "address1": "350 5th Ave",
    "city": "New York",
    "region": "NY",
    "postal_code": "10118",
    "country": "US",
}
ADDRESS_LA = {
    "name": "Grace Hopper",
    "address1": "200 N Spring St",
    "city": "Los Angeles",
    "region": "CA",
    "postal_code": "90012",
    "country": "US",
}


@dataclass
class World:
    operator_key: str
    acme_id: int
    acme_key: str
    globex_id: int
    globex_key: str
    warehouse_nj_key: str
    locations: dict[str, int] = field(default_factory=dict)  # code -> id
    acme_skus: dict[str, int] = field(default_factory=dict)  # code -> id
    globex_skus: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    @property
    def acme(self) -> dict[str, str]:
        return self.auth(self.acme_key)

    @property
    def globex(self) -> dict[str, str]:
        return self.auth(self.globex_key)

    @property
    def operator(self) -> dict[str, str]:
        return self.auth(self.operator_key)

    @property
    def warehouse_nj(self) -> dict[str, str]:
        return self.auth(self.warehouse_nj_key)


def _sku(merchant_id: int, code: str, name: str, price: str, barcode: str | None = None) -> Sku:
    return Sku(
        merchant_id=merchant_id,
        code=code,
        name=name,
        barcode=barcode,
        weight_kg=Decimal("0.500"),
        length_cm=Decimal("30"),
        width_cm=Decimal("20"),
        height_cm=Decimal("5"),
        unit_cost=Decimal("4.00"),
        price=Decimal(price),
        currency="USD",
    )


def build_world(factory: sessionmaker[Session]) -> World:
    """acme stocks three SKUs (TSHIRT at all three DCs, MUG in Dallas only, HAT nowhere); globex one."""
    with factory() as session, session.begin():
        acme = Merchant(code="acme", name="Acme Apparel")
        globex = Merchant(code="globex", name="Globex Goods")
        session.add_all([acme, globex])
        session.flush()
        locations = {}
        for code, name, city, region, postal, lat, lon, tz in LOCATIONS:
            location = Location(
                code=code,
                name=name,
                kind="warehouse",
                address1="1 Logistics Way",
                city=city,
                region=region,
                postal_code=postal,
                country="US",
                latitude=lat,
                longitude=lon,
                timezone=tz,
                cutoff_time=time(15, 0),
            )
            session.add(location)
            session.flush()
            locations[code] = location.id
            session.add_all(
                [
                    MerchantLocation(merchant_id=acme.id, location_id=location.id),
                    MerchantLocation(merchant_id=globex.id, location_id=location.id),
                ]
            )
        acme_skus = [
            _sku(acme.id, "TSHIRT", "Classic T-shirt", "20.00", "036000291452"),
            _sku(acme.id, "MUG", "Coffee mug", "12.50", "012345678905"),
            _sku(acme.id, "HAT", "Sun hat", "25.00"),
        ]
        globex_skus = [_sku(globex.id, "WIDGET", "Widget", "9.99")]
        session.add_all(acme_skus + globex_skus)
        session.flush()
        stock = [
            (acme.id, acme_skus[0].id, locations["NJ1"], 10),
            (acme.id, acme_skus[0].id, locations["TX1"], 10),
            (acme.id, acme_skus[0].id, locations["NV1"], 10),
            (acme.id, acme_skus[1].id, locations["TX1"], 5),
            (globex.id, globex_skus[0].id, locations["NJ1"], 50),
        ]
        for merchant_id, sku_id, location_id, quantity in stock:
            apply(
                session,
                merchant_id=merchant_id,
                movements=[Movement(sku_id, location_id, MovementReason.receive, delta_on_hand=quantity)],
                actor="test:world",
            )
        _, operator_key = create_api_key(session, role=Role.operator, name="ops")
        _, acme_key = create_api_key(session, role=Role.merchant, name="acme", merchant_id=acme.id)
        _, globex_key = create_api_key(session, role=Role.merchant, name="globex", merchant_id=globex.id)
        _, warehouse_key = create_api_key(
            session, role=Role.warehouse, name="nj-floor", location_id=locations["NJ1"]
        )
        return World(
            operator_key=operator_key,
            acme_id=acme.id,
            acme_key=acme_key,
            globex_id=globex.id,
            globex_key=globex_key,
            warehouse_nj_key=warehouse_key,
            locations=locations,
            acme_skus={s.code: s.id for s in acme_skus},
            globex_skus={s.code: s.id for s in globex_skus},
        )
