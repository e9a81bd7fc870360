"""The FastAPI application of ``revsim serve``: the page, and the endpoints it calls.

==============================  ==========================================================================
``GET /``                       the page (one HTML file, its script and its style sheet, all in the package)
``GET /api/scenario``           the scenario, its controls and targets, the run settings
``POST /api/evaluate``          a variant compared with the base: ``phase`` ``preview`` or ``full``
``GET /api/progress``           how far the current run of a page is
``POST /api/save``              the variant written as a scenario file in the scenario's folder
``POST /api/report``            the variant's board report (``report.pdf``, or a zip with the charts and
                                ``forecast.xlsx``), as a download
==============================  ==========================================================================

Every answer to bad input is JSON ``{"detail": message, "source": where}``: status 422 for a value the
scenario refuses (``message`` is what the command line prints for it, without ``error:``), 403 for a path
outside the scenario's folder, 409 for a request replaced by a newer one or a file that exists. Nothing a
request holds stops the server: any other failure is a 500 with its message, and the server goes on.
"""

from __future__ import annotations

import io
import logging
import tempfile
import traceback
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from revsim.errors import InputError, SimulationError
from revsim.serve.folder import OutsideFolder
from revsim.serve.saving import FileExists, save_variant
from revsim.serve.session import Superseded, WhatIfSession
from revsim.serve.variant import VariantError, set_lines

__all__ = ["create_app", "LOOPBACK_HOSTS"]

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]

#: The page's files: name -> media type.
STATIC = {"index.html": "text/html; charset=utf-8", "serve.js": "text/javascript; charset=utf-8",
          "serve.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}

#: Nothing is fetched from elsewhere: every script, style and image of the page comes from this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

log = logging.getLogger("revsim.serve")
T = TypeVar("T")


class VariantBody(BaseModel):
    """The page's changes: control settings (id -> number, or true/false for a switch) and ``--set`` lines."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    settings: dict[str, Any] = Field(default_factory=dict, max_length=500)
    overrides: list[str] | str = Field(default_factory=list, alias="set")


class EvaluateBody(VariantBody):
    client: str = Field(default="", max_length=64)
    seq: int = 0
    phase: Literal["preview", "full"] = "preview"


class SaveBody(VariantBody):
    file_name: str = Field(max_length=200)
    mode: str = "values"
    name: str | None = Field(default=None, max_length=200)
    overwrite: bool = False


class ReportBody(VariantBody):
    format: Literal["pdf", "zip"] = "pdf"
    name: str | None = Field(default=None, max_length=200)


def _error(status: int, message: str, source: str = "", **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, "source": source, **extra}, status_code=status,
                        headers=SECURITY_HEADERS)


def _answer(work: Callable[[], T]) -> T | JSONResponse:
    """Run ``work``; turn every failure into a JSON error (see the module's description)."""
    try:
        return work()
    except VariantError as exc:
        return _error(422, exc.message, exc.source)
    except (InputError, SimulationError) as exc:
        return _error(422, str(exc))
    except OutsideFolder as exc:
        return _error(403, str(exc), "file")
    except FileExists as exc:
        return _error(409, str(exc), "file", exists=True)
    except Superseded as exc:
        return _error(409, str(exc), superseded=True)
    except Exception as exc:  # noqa: BLE001 - the server answers and goes on
        log.error("revsim serve: %s", "".join(traceback.format_exception(exc)))
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")


def create_app(session: WhatIfSession, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The application serving ``session``.

    Parameters
    ----------
    allowed_hosts
        Host names the server answers to (others get 400): by default the loopback names, so that a web page
        elsewhere cannot reach the server through a DNS name of its own. ``["*"]`` for any.
    """
    app = FastAPI(title="revsim what-if", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS)
    files = {name: resources.files("revsim.serve").joinpath("static", name).read_bytes() for name in STATIC}

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Any:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
        return _error(422, "the request is not one the page sends: " + "; ".join(parts), "request")

    @app.get("/")
    def page() -> Response:
        return Response(files["index.html"], media_type=STATIC["index.html"])

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in files or name == "index.html":
            return _error(404, f"no file '{name}'")
        return Response(files[name], media_type=STATIC[name])

    @app.get("/api/scenario")
    def scenario() -> Any:
        return _answer(session.describe)

    @app.post("/api/evaluate")
    def evaluate(body: EvaluateBody) -> Any:
        from revsim.serve.results import comparison_payload

        session.start(body.client, body.seq)

        def work() -> dict[str, Any]:
            variant = session.variant(body.settings, set_lines(body.overrides))
            draws = session.preview_draws if body.phase == "preview" else session.draws
            comparison = session.compare(variant, draws=draws, client=body.client, seq=body.seq, phase=body.phase)
            payload = comparison_payload(comparison, variant, session.controls, session.summaries)
            payload.update({"seq": body.seq, "phase": body.phase, "final": draws >= session.draws,
                            "cli": _cli(session, variant)})
            return payload

        return _answer(work)

    @app.get("/api/progress")
    def progress(client: str = "") -> Any:
        return session.progress(client[:64])

    @app.post("/api/save")
    def save(body: SaveBody) -> Any:
        def work() -> dict[str, Any]:
            variant = session.variant(body.settings, set_lines(body.overrides))
            saved = save_variant(session, variant, body.file_name, mode=body.mode, name=body.name,
                                 overwrite=body.overwrite)
            return {"file": saved.shown, "mode": saved.mode, "command": saved.command,
                    "comments_kept": saved.comments_kept, "levers": saved.levers}

        return _answer(work)

    @app.post("/api/report")
    def report(body: ReportBody) -> Any:
        def work() -> Response:
            variant = session.variant(body.settings, set_lines(body.overrides))
            ds, scenario = session.variant_dataset(variant, name=body.name)
            content, file_name, media = _report_file(ds, scenario, body.format, Path(session.scenario_file).stem)
            return Response(content, media_type=media,
                            headers={"Content-Disposition": f'attachment; filename="{file_name}"'})

        return _answer(work)

    return app


def _cli(session: WhatIfSession, variant: Any) -> str | None:
    """The ``revsim compare`` command that prints the page's numbers, when one option can say the change."""
    if variant.unchanged:
        return None
    levers = [change.cli for change in variant.changes]
    if any(lever is None for lever in levers):
        return None
    if len(levers) > 1 and any("=" in lever for lever in levers):
        return None  # several ad-hoc levers cannot be joined into one variant on the command line
    joined = "+".join(levers)
    quoted = f'"{joined}"' if any(ch in joined for ch in " *%") else joined
    return f"revsim compare {session.scenario_file} --lever {quoted} --draws {session.draws} --seed {session.seed}"


def _report_file(ds: Any, scenario: Any, fmt: str, stem: str) -> tuple[bytes, str, str]:
    from revsim.report.build import PDF_NAME, write_report

    with tempfile.TemporaryDirectory(prefix="revsim-serve-") as tmp:
        out = Path(tmp) / "report"
        result = write_report(ds, out, formats=("png",), scenario=scenario)
        if fmt == "pdf":
            return (out / PDF_NAME).read_bytes(), f"{stem}-whatif-report.pdf", "application/pdf"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in result.written:
                archive.write(path, f"{stem}-whatif-report/{path.name}")
        return buffer.getvalue(), f"{stem}-whatif-report.zip", "application/zip"

