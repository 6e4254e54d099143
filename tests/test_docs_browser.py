"""/docs in a real browser: headless Chromium renders Swagger UI from files the server serves itself.

The routes appear in the rendered DOM only if Swagger UI's JavaScript loaded, fetched openapi.json and ran.
Chromium is kept off every host but loopback, so a page that needed a CDN would stay blank.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from functions.api.local import create_local_app
from functions.api.settings import Settings
from tests.conftest import golive_process, running_server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (`apt-get install -y chromium`; "
    "scripts/test.sh installs it when run as root)",
)


def render(url: str, profile: Path, output: str = "--dump-dom") -> str:
    """The DOM after the page's scripts ran (virtual time lets them finish without a fixed sleep), or with
    `output="--screenshot=FILE"` a picture of the page."""
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            # every host name but loopback fails to resolve: nothing can come from a CDN
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--no-proxy-server",
            "--virtual-time-budget=20000",
            "--window-size=1280,1400",
            output,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def assert_routes_render(base: str, dom: str) -> None:
    spec = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert "/v1/predict" in spec["paths"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            # Swagger UI's block per operation: its path, and an id made of the tag and the operationId
            # (the rendered id writes a tag's spaces as underscores: "hugging face" -> hugging_face)
            tag = operation["tags"][0].strip().replace(" ", "_")
            assert f'data-path="{path}"' in dom, f"{method.upper()} {path} did not render"
            assert f'id="operations-{tag}-{operation["operationId"]}"' in dom
    assert "validator.swagger.io" not in dom


def page_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


def test_docs_render_in_chromium_from_golive_serve(tiny_bundle, tmp_path):
    with golive_process(
        "serve", "--model", str(tiny_bundle), "--feedback-db", str(tmp_path / "feedback.sqlite3"), cwd=tmp_path
    ) as base:
        html = requests.get(f"{base}/docs", timeout=10).text
        urls = page_urls(html)
        assert urls and all(u.startswith(("/", "data:")) for u in urls), f"the page loads from elsewhere: {urls}"
        dom = render(f"{base}/docs", tmp_path / "profile")
        assert_routes_render(base, dom)
        screenshot = tmp_path / "docs.png"
        render(f"{base}/docs", tmp_path / "profile", f"--screenshot={screenshot}")
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000


def test_docs_render_under_a_path_prefix_like_an_api_gateway_stage(tiny_bundle, tmp_path):
    """Served below /dev (as API Gateway's stage puts it), the page must load /dev/openapi.json and its assets
    from /dev, and "Try it out" must call /dev/v1/...: the OpenAPI `servers` entry says so."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = create_local_app(Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "feedback.sqlite3")))
    with running_server(Starlette(routes=[Mount("/dev", app)])) as url:
        base = f"{url}/dev"
        assert requests.get(f"{url}/docs", timeout=10).status_code == 404
        assert all(u.startswith(("/dev/", "data:")) for u in page_urls(requests.get(f"{base}/docs", timeout=10).text))
        dom = render(f"{base}/docs", tmp_path / "profile")
        assert_routes_render(base, dom)
        assert json.loads(requests.get(f"{base}/openapi.json", timeout=10).text)["servers"] == [{"url": "/dev"}]
        assert re.search(r'<option value="/dev"[^>]*>/dev</option>', dom), "the servers list does not offer /dev"


def test_deployed_docs_offer_authorize_and_lock_every_keyed_operation(tiny_bundle, tmp_path):
    """With the API key declared (as the Lambda's GOLIVE_API_KEY_REQUIRED does), Swagger UI shows its "Authorize"
    button and a lock on each keyed operation, none on health: what "Try it out" will send the key with."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = create_local_app(
        Settings(model_dir=str(tiny_bundle), feedback_db=str(tmp_path / "feedback.sqlite3"), api_key_required=True)
    )
    with running_server(Starlette(routes=[Mount("/dev", app)])) as url:
        base = f"{url}/dev"
        dom = render(f"{base}/docs", tmp_path / "profile")
        assert_routes_render(base, dom)
        assert re.search(r'<button class="btn authorize[^"]*"', dom), "no Authorize button"
        spec = requests.get(f"{base}/openapi.json", timeout=10).json()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                tag = operation["tags"][0].strip().replace(" ", "_")
                block = dom.split(f'id="operations-{tag}-{operation["operationId"]}"', 1)[1].split(
                    'id="operations-', 1
                )[0]
                locked = "authorization__btn" in block
                assert locked is ("security" in operation), f"{method.upper()} {path}: lock shown {locked}"
