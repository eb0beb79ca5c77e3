"""GET /docs: Swagger UI over the service's own /openapi.json.

The page's scripts, styles and icons are files of the pinned ``swagger-ui-py``
package (Swagger UI 5, which reads OpenAPI 3.1), served from this service:
never a CDN, and the page's Content-Security-Policy lets the browser load
nothing from anywhere else.  Only the file names in ``ASSETS`` are served,
looked up by name: no part of a request path ever reaches the file system.
"""

import base64
import hashlib
import html
from importlib.metadata import distribution
from pathlib import Path

import faust
from aiohttp import web
from faust.web import Request, Response

from web.http import ApiView
from web.problems import HttpProblem

PACKAGE = "swagger-ui-py"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")

# Relative URLs: /docs/… and /openapi.json of whichever host and prefix served the page.
# validatorUrl null: Swagger UI would otherwise fetch a badge from an online validator.
INIT_SCRIPT = """
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  displayOperationId: true,
  displayRequestDuration: true,
  validatorUrl: null,
});
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} · API docs</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>{script}</script>
</body>
</html>
"""


def asset_files() -> dict[str, Path]:
    """The served files of the installed package, by name; fails at start-up if one is missing."""
    package = distribution(PACKAGE)
    files = {name: Path(package.locate_file(f"swagger_ui/static/{name}")) for name in ASSETS}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"{PACKAGE} {package.version} lacks {', '.join(missing)}")
    return files


def content_security_policy(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'sha256-{digest}'",
            "style-src 'self' 'unsafe-inline'",  # Swagger UI sets style attributes
            "img-src 'self' data:",
            "connect-src 'self'",  # /openapi.json and "Try it out"
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def register_docs_view(app: faust.App, title: str) -> None:
    files = asset_files()
    page = PAGE.format(title=html.escape(title), script=INIT_SCRIPT).encode()
    headers = {"Content-Security-Policy": content_security_policy(INIT_SCRIPT)}

    @app.page("/docs")
    class DocsView(ApiView):
        async def get(self, request: Request) -> Response:
            return web.Response(
                body=page, content_type="text/html", charset="utf-8", headers=headers
            )

    @app.page("/docs/{asset}")
    class DocsAssetView(ApiView):
        async def get(self, request: Request, asset: str) -> web.StreamResponse:
            path = files.get(asset)
            if path is None:
                raise HttpProblem(404, f"there is nothing at {request.path}")
            return web.FileResponse(path)  # ETag and If-None-Match; sent off the event loop
