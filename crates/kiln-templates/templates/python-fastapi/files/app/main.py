"""FastAPI app: a server-rendered page about the brief and stories, plus a small JSON API.

`create_app()` builds the app without starting a server so the tests exercise the same code
that `uvicorn app.main:app` serves.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
KILN_FILE = ROOT / "kiln.json"
STATIC_DIR = Path(__file__).resolve().parent / "static"


class Story(BaseModel):
    title: str = ""
    description: str = ""
    acceptance: list[str] = Field(default_factory=list)


class Kiln(BaseModel):
    """The brief and stories Kiln wrote to kiln.json."""

    project: str = ""
    title: str = ""
    brief: str = ""
    epic: str = ""
    stories: list[Story] = Field(default_factory=list)


def load_kiln(path: Path = KILN_FILE) -> Kiln:
    """Reads kiln.json, tolerating missing or mistyped fields rather than refusing to start."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        data = {}

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    def as_list(value: object) -> list:
        return value if isinstance(value, list) else []

    project = text(data.get("project"))
    return Kiln(
        project=project,
        title=text(data.get("title")) or project or "Untitled",
        brief=text(data.get("brief")),
        epic=text(data.get("epic")),
        stories=[
            Story(
                title=text(story.get("title")),
                description=text(story.get("description")),
                acceptance=[text(item) for item in as_list(story.get("acceptance"))],
            )
            for story in as_list(data.get("stories"))
            if isinstance(story, dict)
        ],
    )


def normalise_base_path(value: str | None) -> str:
    """The proxy strips the prefix before requests arrive, so routes stay at `/` and pages use
    relative URLs; the prefix is only needed for absolute links. Returns "" or "/prefix"."""
    trimmed = (value or "").strip().rstrip("/")
    if not trimmed:
        return ""
    return trimmed if trimmed.startswith("/") else "/" + trimmed


def esc(value: str) -> str:
    """Every piece of kiln.json is user text: escape it, quotes included, wherever it goes."""
    return html.escape(value, quote=True)


def render_page(kiln: Kiln, base_path: str) -> str:
    home = esc(base_path + "/") if base_path else "./"
    if kiln.stories:
        sections = []
        for number, story in enumerate(kiln.stories, start=1):
            parts = [f'      <section class="story" id="story-{number}">']
            parts.append(f"        <h3>{esc(story.title)}</h3>")
            if story.description:
                parts.append(f"        <p>{esc(story.description)}</p>")
            if story.acceptance:
                parts.append("        <h4>Acceptance criteria</h4>")
                parts.append('        <ul class="acceptance">')
                parts.extend(f"          <li>{esc(item)}</li>" for item in story.acceptance)
                parts.append("        </ul>")
            parts.append("      </section>")
            sections.append("\n".join(parts))
        stories = '    <div class="stories">\n' + "\n".join(sections) + "\n    </div>"
    else:
        stories = '    <p class="empty">No stories yet.</p>'

    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="kiln-project" content="{esc(kiln.project)}">
  <title>{esc(kiln.title)}</title>
  <link rel="stylesheet" href="styles.css">
</head>
<body>
  <header class="hero">
    <div class="wrap">
      <p class="eyebrow"><a href="{home}">{esc(kiln.epic or kiln.project)}</a></p>
      <h1>{esc(kiln.title)}</h1>
      <p class="brief">{esc(kiln.brief)}</p>
    </div>
  </header>
  <main class="wrap">
    <h2 class="stories-heading">What this app covers</h2>
{stories}
  </main>
  <footer class="wrap">
    <p>Built by Kiln &middot; <span class="project">{esc(kiln.project)}</span>
      &middot; <a href="api/stories">JSON API</a></p>
  </footer>
</body>
</html>
"""


def create_app(kiln_file: Path = KILN_FILE, base_path: str | None = None) -> FastAPI:
    """Builds the app. `base_path` defaults to the BASE_PATH environment variable."""
    kiln = load_kiln(kiln_file)
    prefix = normalise_base_path(os.environ.get("BASE_PATH") if base_path is None else base_path)

    # The interactive docs load their scripts from a CDN and use root-absolute URLs, which
    # break offline and behind the path prefix; the OpenAPI document itself stays available.
    app = FastAPI(title=kiln.title, docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return render_page(kiln, prefix)

    @app.get("/styles.css", include_in_schema=False)
    def styles() -> FileResponse:
        return FileResponse(STATIC_DIR / "styles.css", media_type="text/css")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Read per request, not at startup, so the answer is always the environment's truth.
    @app.get("/__kiln/version", response_class=PlainTextResponse)
    def version() -> str:
        return os.environ.get("KILN_BUILD_SHA") or "dev"

    @app.get("/api/kiln")
    def api_kiln() -> Kiln:
        return kiln

    @app.get("/api/stories")
    def api_stories() -> list[Story]:
        return kiln.stories

    @app.get("/api/stories/{number}")
    def api_story(number: int) -> Story:
        """Stories are numbered from 1, as on the page (`#story-1`)."""
        if not 1 <= number <= len(kiln.stories):
            raise HTTPException(status_code=404, detail=f"no story {number}")
        return kiln.stories[number - 1]

    return app


app = create_app()
