from fastapi.testclient import TestClient

from tests.world import World


def test_healthz_answers_with_the_database_reachable(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_key_is_refused_with_problem_json(client: TestClient, world: World) -> None:
    response = client.get("/v1/orders", headers=World.auth("om_nope"))
    assert response.status_code in (401, 404, 405)
