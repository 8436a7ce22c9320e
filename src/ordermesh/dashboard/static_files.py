"""The dashboard's static files (package data, vendored at exact versions: see static/VERSIONS.md), served
from memory at /static with long-cache headers; a page links each with its content hash in the query."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Request, Response

from ordermesh.errors import NotFound

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
ONE_YEAR = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    digest: str  # the first 12 hex digits of its SHA-256: the link's version and the ETag


def _load() -> dict[str, StaticFile]:
    folder = resources.files("ordermesh.dashboard") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in TYPES:
            body = entry.read_bytes()
            files[entry.name] = StaticFile(body, TYPES[suffix], hashlib.sha256(body).hexdigest()[:12])
    return files


FILES = _load()


def static_url(name: str) -> str:
    """The link to a static file, versioned by its content so that it may be cached for a year."""
    return f"/static/{name}?v={FILES[name].digest}"


router = APIRouter(include_in_schema=False)


@router.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    found = FILES.get(name)
    if found is None:
        raise NotFound(f"no static file {name}")
    headers = {"Cache-Control": ONE_YEAR, "ETag": f'"{found.digest}"'}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
