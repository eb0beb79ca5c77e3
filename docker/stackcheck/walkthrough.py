"""The README's curl walkthrough, as checks on the answers, plus finding orders again."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from stackcheck.http_client import CART, ORDERS, expect, expect_problem, request
from stackcheck.http_client import eventually as wait_for
from stackcheck.report import CheckFailed

CENTS = Decimal("0.01")


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def create(order_id: str, **fields: Any) -> dict[str, Any]:
    answer = request("POST", f"{CART}/create-order", {"orderId": order_id, **fields})
    expect(answer, 201, f"create {order_id}")
    if answer.headers.get("Location") != f"/order-details?orderId={quote(order_id)}":
        raise CheckFailed(f"create {order_id}: Location {answer.headers.get('Location')}")
    return answer.json()


def order_details(order_id: str, status: str | None = None, timeout: float = 60.0) -> dict:
    """The order service's view, once it has the order (in ``status``, if given)."""

    def probe() -> dict | None:
        answer = request("GET", f"{ORDERS}/order-details?orderId={quote(order_id)}")
        if answer.status == 200 and (status is None or answer.json()["status"] == status):
            return answer.json()
        if answer.status not in (200, 404, 503):
            raise CheckFailed(f"order-details {order_id}: HTTP {answer.status}")
        return None

    return wait_for(f"order-details of {order_id}", probe, timeout)


def check_shipping(order: dict[str, Any]) -> None:
    total = money(order["totalAmount"])
    items = sum(money(i["price"]) * i["quantity"] for i in order["items"])
    shipping = (total * Decimal("0.02")).quantize(CENTS, rounding=ROUND_HALF_UP)
    if items != total or money(order["shippingCost"]) != shipping:
        raise CheckFailed(
            f"{order['orderId']}: total {total}, items {items}, "
            f"shippingCost {order['shippingCost']} (expected {shipping})"
        )


def run_walkthrough(prefix: str) -> dict[str, dict[str, Any]]:
    """Create (random and explicit items), update, read back; returns orderId -> order."""
    random_id, explicit_id = f"{prefix}-1001", f"{prefix}-1002"
    created = create(random_id, numItems=3)
    if len(created["items"]) != 3 or created["status"] != "new":
        raise CheckFailed(f"random create: {created}")
    items = [{"itemId": "SKU-1", "quantity": 2, "price": 19.99}]
    explicit = create(
        explicit_id, customerId="CUST-7", currency="EUR", items=items, totalAmount=39.98
    )
    if money(explicit["totalAmount"]) != Decimal("39.98") or explicit["currency"] != "EUR":
        raise CheckFailed(f"explicit create: {explicit}")
    answer = request("PUT", f"{CART}/update-order", {"orderId": random_id, "status": "confirmed"})
    if expect(answer, 200, "update").json()["status"] != "confirmed":
        raise CheckFailed(f"update: {answer.body[:200]!r}")
    orders = {
        random_id: order_details(random_id, "confirmed"),
        explicit_id: order_details(explicit_id),
    }
    for order in orders.values():
        check_shipping(order)
    return orders


def check_topic_scan(order_ids: set[str]) -> int:
    answer = request("GET", f"{ORDERS}/getAllOrderIdsFromTopic?topicName=order-events")
    body = expect(answer, 200, "topic scan").json()
    missing = order_ids - set(body["orderIds"])
    if missing or body["count"] != len(body["orderIds"]):
        raise CheckFailed(f"topic scan misses {sorted(missing)[:5]} (count {body['count']})")
    return body["recordsScanned"]


def check_errors(known_id: str) -> None:
    """400, 404, 405 and 409, each as problem+json."""
    expect_problem(request("POST", f"{CART}/create-order", raw=b'{"orderId": '), 400, "bad JSON")
    expect_problem(
        request("POST", f"{CART}/create-order", {"orderId": "x", "numItems": 0}), 400, "numItems 0"
    )
    expect_problem(
        request("GET", f"{ORDERS}/getAllOrderIdsFromTopic?topicName=bad%20name"),
        400,
        "invalid topic name",
    )
    expect_problem(request("GET", f"{ORDERS}/order-details?orderId=nope"), 404, "unknown order")
    expect_problem(
        request("PUT", f"{CART}/update-order", {"orderId": "nope", "status": "shipped"}),
        404,
        "update of an unknown order",
    )
    answer = expect_problem(request("GET", f"{CART}/create-order"), 405, "GET /create-order")
    if "POST" not in answer.headers.get("Allow", ""):
        raise CheckFailed(f"405 without Allow: POST ({answer.headers.get('Allow')})")
    expect_problem(
        request("POST", f"{CART}/create-order", {"orderId": known_id, "numItems": 1}),
        409,
        "duplicate create",
    )
    expect_problem(
        request("PUT", f"{CART}/update-order", {"orderId": known_id, "status": "new"}),
        409,
        "backward status move",
    )


def check_ready_and_metrics() -> None:
    for base in (CART, ORDERS):
        expect(request("GET", f"{base}/ready"), 200, f"{base}/ready")
        metrics = expect(request("GET", f"{base}/metrics"), 200, f"{base}/metrics").body.decode()
        if "http_requests_total" not in metrics:
            raise CheckFailed(f"{base}/metrics has no http_requests_total")


def check_found_again(orders: dict[str, dict[str, Any]]) -> None:
    """Every order answers as before, in the order service and (409 on create) in the cart."""
    for order_id, before in orders.items():
        now = order_details(order_id, before["status"], timeout=90)
        if json.dumps(now, sort_keys=True) != json.dumps(before, sort_keys=True):
            raise CheckFailed(f"{order_id} changed: {before} -> {now}")
    some_id = next(iter(orders))
    expect_problem(
        request("POST", f"{CART}/create-order", {"orderId": some_id, "numItems": 1}),
        409,
        "the cart remembers an order (duplicate create)",
    )
