"""HTTP against the published host ports, as curl would: stdlib only, never a proxy."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from stackcheck.report import CheckFailed

CART = "http://127.0.0.1:8000"
ORDERS = "http://127.0.0.1:8001"
REGISTRY = "http://127.0.0.1:8081/apis/ccompat/v7"
# The stack is on this machine: an http_proxy of the environment must not be used.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str, url: str, body: Any = None, *, raw: bytes | None = None, timeout: float = 40.0
) -> Answer:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def expect(answer: Answer, status: int, what: str) -> Answer:
    if answer.status != status:
        raise CheckFailed(f"{what}: HTTP {answer.status}, expected {status}: {answer.body[:200]!r}")
    return answer


def expect_problem(answer: Answer, status: int, what: str) -> Answer:
    """An RFC 9457 problem document with that status."""
    expect(answer, status, what)
    if not answer.headers.get("Content-Type", "").startswith("application/problem+json"):
        raise CheckFailed(f"{what}: Content-Type {answer.headers.get('Content-Type')}")
    if answer.json().get("status") != status:
        raise CheckFailed(f"{what}: problem body {answer.body[:200]!r}")
    return answer


def eventually(what: str, probe: Any, timeout: float = 60.0, pause: float = 0.25) -> Any:
    """Call ``probe`` until it returns something other than None; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (OSError, CheckFailed) as error:
            last = error
        else:
            if result is not None:
                return result
        time.sleep(pause)
    raise CheckFailed(f"{what}: not within {timeout:.0f}s (last: {last})")
