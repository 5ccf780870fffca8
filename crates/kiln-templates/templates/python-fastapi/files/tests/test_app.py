"""Checks the real app against kiln.json, so the tests follow the brief instead of
hard-coding it. TestClient drives the ASGI app in-process: no network, no port."""

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app

KILN = json.loads((Path(__file__).resolve().parent.parent / "kiln.json").read_text("utf-8"))


def shown(text: str) -> str:
    """Text as the page prints it."""
    return html.escape(text, quote=True)


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(base_path=""))


def test_index_shows_title_brief_and_every_story(client: TestClient) -> None:
    res = client.get("/")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    page = res.text

    assert f'<meta name="kiln-project" content="{shown(KILN["project"])}">' in page
    assert f"<title>{shown(KILN['title'])}</title>" in page
    assert f"<h1>{shown(KILN['title'])}</h1>" in page
    assert shown(KILN["brief"]) in page
    for story in KILN["stories"]:
        # Whole element text, so a title that is merely part of the brief does not count.
        assert f">{shown(story['title'])}<" in page, f"story title missing: {story['title']}"
        for criterion in story["acceptance"]:
            assert f">{shown(criterion)}<" in page, f"criterion missing: {criterion}"
    assert page.count('<section class="story"') == len(KILN["stories"])


def test_index_escapes_user_text(tmp_path: Path) -> None:
    kiln_file = tmp_path / "kiln.json"
    hostile = '<script>alert("x")</script>'
    kiln_file.write_text(
        json.dumps({"project": "demo", "title": hostile, "brief": hostile,
                    "stories": [{"title": hostile, "description": "", "acceptance": [hostile]}]}),
        "utf-8",
    )
    page = TestClient(create_app(kiln_file=kiln_file, base_path="")).get("/").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_index_uses_relative_urls_and_base_path_for_absolute_links() -> None:
    page = TestClient(create_app(base_path="")).get("/").text
    assert 'href="styles.css"' in page
    assert not re.search(r'(href|src)="/(?!/)', page), "page contains a root-absolute URL"

    prefixed = TestClient(create_app(base_path="/apps/demo/")).get("/").text
    assert 'href="/apps/demo/"' in prefixed
    assert 'href="styles.css"' in prefixed


def test_stylesheet_is_served(client: TestClient) -> None:
    res = client.get("/styles.css")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/css")


def test_healthz_reports_ok(client: TestClient) -> None:
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.json() == {"status": "ok"}


def test_version_is_the_build_stamp_or_dev(client: TestClient, monkeypatch) -> None:
    monkeypatch.setenv("KILN_BUILD_SHA", "abc123def")
    res = client.get("/__kiln/version")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    assert res.text == "abc123def"

    monkeypatch.delenv("KILN_BUILD_SHA")
    assert client.get("/__kiln/version").text == "dev"


def test_api_lists_the_stories_of_kiln_json(client: TestClient) -> None:
    res = client.get("/api/stories")
    assert res.status_code == 200
    assert [s["title"] for s in res.json()] == [s["title"] for s in KILN["stories"]]

    summary = client.get("/api/kiln").json()
    assert summary["project"] == KILN["project"]
    assert summary["title"] == KILN["title"]


def test_api_story_by_number(client: TestClient) -> None:
    for number, story in enumerate(KILN["stories"], start=1):
        res = client.get(f"/api/stories/{number}")
        assert res.status_code == 200
        assert res.json()["title"] == story["title"]
        assert res.json()["acceptance"] == story["acceptance"]
    assert client.get(f"/api/stories/{len(KILN['stories']) + 1}").status_code == 404
    assert client.get("/api/stories/0").status_code == 404


def test_unknown_paths_are_404(client: TestClient) -> None:
    assert client.get("/no-such-page").status_code == 404
