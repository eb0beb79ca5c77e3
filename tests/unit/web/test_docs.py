"""GET /docs and its assets, on a Faust app's own aiohttp application (no broker).

What a browser does with the page is tested in tests/integration/test_docs_browser.py.
"""

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer

from models.codec import loads
from web.docs import ASSETS, asset_files, register_docs_view
from web.problems import problem_middleware


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = faust.App(
        "docs-test",
        autodiscover=False,
        web_application_options={"middlewares": [problem_middleware]},
    )
    register_docs_view(app, "Cart <service>")
    async with TestClient(TestServer(app.web.web_app)) as test_client:
        yield test_client


async def test_the_page_loads_swagger_ui_and_the_document_from_the_same_service(client):
    response = await client.get("/docs")

    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "<title>Cart &lt;service&gt; · API docs</title>" in page
    assert '<script src="docs/swagger-ui-bundle.js">' in page
    assert 'url: "openapi.json"' in page
    assert "validatorUrl: null" in page
    assert sorted(re.findall(r'(?:href|src)="([^"]+)"', page)) == sorted(
        f"docs/{name}" for name in ASSETS
    )


async def test_the_pages_policy_allows_only_its_own_origin_and_its_inline_script(client):
    response = await client.get("/docs")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    (script,) = re.findall(r"<script>(.*?)</script>", await response.text(), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'" in policy


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "application/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ],
)
async def test_an_asset_is_the_installed_packages_file(client, name, content_type):
    response = await client.get(f"/docs/{name}")

    assert response.status == 200
    assert response.content_type == content_type
    assert await response.read() == asset_files()[name].read_bytes()


async def test_an_unchanged_asset_is_not_sent_again(client):
    first = await client.get("/docs/swagger-ui.css")

    again = await client.get(
        "/docs/swagger-ui.css", headers={"If-None-Match": first.headers["ETag"]}
    )

    assert again.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/docs/swagger-initializer.js",  # in the package, but not an asset of the page
        "/docs/..%2F..%2Fsetup.cfg",
        "/docs/%2e%2e%2fweb%2fdocs.py",
        "/docs/..%5c..%5csetup.cfg",
        "/docs/%2Fetc%2Fpasswd",
        "/docs/swagger-ui.css%00",
        "/docs/",
    ],
)
async def test_nothing_but_the_known_assets_is_served(client, path):
    response = await client.get(path)

    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert loads(await response.read())["status"] == 404
