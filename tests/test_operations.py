"""Health, metrics, request ids, and migrations that match the models on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from ordermesh.models import Base
from tests.orders_support import order_body
from tests.world import World


def test_healthz_reports_database_and_version(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["version"]


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    made = client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32


def test_metrics_count_requests_by_route_and_orders_by_channel(client: TestClient, world: World) -> None:
    client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme)
    text = client.get("/metrics").text
    assert 'ordermesh_http_requests_total{method="POST",route="/v1/orders",status="201"}' in text
    assert 'ordermesh_orders_created_total{channel="api",status="confirmed"}' in text


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/orders" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_migrations_create_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
