"""Schema-driven fuzzing of the OpenAPI document (schemathesis strategies run by hypothesis):
whatever the generated request, valid by the document or deliberately not, the server never
answers 5xx, and its answers match the document (status codes, content types, response schemas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from recommender.api import create_app
from recommender.api.settings import ApiSettings
from tests.api.support import ApiServer, Shop, wait_until

# The operations, from the application's own document (no server needed to collect the tests).
DOCUMENT = create_app(ApiSettings(api_variants=None, api_key=None)).openapi()
OPERATIONS = [f"{method.upper()} {path}" for path, methods in DOCUMENT["paths"].items() for method in methods]
WITH_INPUT = {f"{method.upper()} {path}" for path, methods in DOCUMENT["paths"].items()
              for method, op in methods.items() if op.get("parameters") or op.get("requestBody")}
PRODUCTS = "select product_id, sku, name, category, brand, price, active from raw.products order by product_id"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def shop_as_it_was(shop: Shop, server: ApiServer):
    """The fuzzers write products and users (PUT/POST /products, PUT /users, with random ids and
    values, deactivating products too): afterwards the shop's products are put back as they were, so
    that the tests that follow, in any order, see the shop they expect."""
    products = shop.query(PRODUCTS)
    popular = server.get("/products/popular", params={"k": 100}).json()["items"]
    yield
    restore_products(shop, products)
    wait_until(lambda: server.get("/products/popular", params={"k": 100}).json()["items"] == popular,
               timeout=30, message="the server to serve the shop's products as before the fuzzing")


@pytest.fixture(scope="module")
def live_schema(server: ApiServer):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


CASES = [pytest.param(label, GenerationMode.POSITIVE, id=f"{label} valid") for label in OPERATIONS] + [
    pytest.param(label, GenerationMode.NEGATIVE, id=f"{label} invalid") for label in OPERATIONS if label in WITH_INPUT]


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_server_errors_and_answers_match_the_document(label: str, mode, server: ApiServer, live_schema) -> None:
    operation = live_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(case) -> None:
        case.call_and_validate(base_url=server.url, checks=CHECKS)

    fuzz()


# ---------------------------------------------------------------- schemathesis's own runner, every check

FUZZ_KEY = "fuzz-s3cret"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def restore_products(shop: Shop, products: list[tuple]) -> None:
    """Undo what the fuzzers' writes did to the shared shop: the products they changed get their values
    back (updated_at moves, so every server's poll follows), the ones they made are deactivated (events
    may name them). The users they made and their events stay (ids no other test picks)."""
    with shop.connect() as conn:
        conn.execute("create temp table before_fuzz (product_id bigint primary key, sku text, name text, "
                     "category text, brand text, price numeric(10, 2), active boolean)")
        with conn.cursor() as cur, cur.copy("copy before_fuzz from stdin") as copy:
            for row in products:
                copy.write_row(row)
        conn.execute("""
            update raw.products p set sku = b.sku, name = b.name, category = b.category, brand = b.brand,
                                      price = b.price, active = b.active, updated_at = now()
            from before_fuzz b
            where b.product_id = p.product_id
              and (p.sku, p.name, p.category, p.brand, p.price, p.active)
                  is distinct from (b.sku, b.name, b.category, b.brand, b.price, b.active)""")
        conn.execute("update raw.products p set active = false, updated_at = now() where p.active "
                     "and not exists (select 1 from before_fuzz b where b.product_id = p.product_id)")




@pytest.mark.slow
def test_schemathesis_run_with_every_check_finds_nothing(start_server, shop: Shop, tmp_path: Path) -> None:
    """`schemathesis run --checks all` against a server with an API key (so that ignored_auth can
    check the write routes refuse requests without it): every phase, bounded in examples; the run's
    exit status is 0 only when no check failed and no error occurred."""
    server = start_server(SHOP_API_KEY=FUZZ_KEY)
    products = shop.query(PRODUCTS)
    popular = server.get("/products/popular", params={"k": 100}).json()["items"]
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json", "--checks", "all",
               "-H", f"X-API-Key: {FUZZ_KEY}", "--max-examples", "25", "--seed", "16", "--workers", "1",
               "--generation-database", "none", "--request-timeout", "20", "--no-color",
               "--report", "junit", "--report-dir", str(tmp_path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    finally:
        restore_products(shop, products)
        wait_until(lambda: server.get("/products/popular", params={"k": 100}).json()["items"] == popular,
                   timeout=30, message="the servers to serve the shop's products as before the run")
    report = result.stdout[result.stdout.find("FAILURES"):] if "FAILURES" in result.stdout else result.stdout
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{' '.join(command)}\n{report[:20000]}\n{result.stderr[-3000:]}"
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]
