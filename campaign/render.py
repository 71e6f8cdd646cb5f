"""Sandboxed Jinja2 rendering of campaign templates.

``StrictUndefined``: a misspelt variable is an error, never an empty string.
``SandboxedEnvironment``: a template cannot reach Python internals.
Errors name the template file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from core.errors import CampaignError


class Renderer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(folder)),
            undefined=StrictUndefined,
            autoescape=False,  # posts are plain text, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._cache: dict[str, Any] = {}

    def template_path(self, name: str, language: str) -> str:
        return f"templates/{name}.{language}.j2"

    def render(self, name: str, language: str, context: dict[str, Any]) -> str:
        path = self.template_path(name, language)
        try:
            template = self._cache.get(path)
            if template is None:
                template = self._cache[path] = self.env.get_template(path)
            text = template.render(context)
        except TemplateNotFound:
            raise CampaignError(str(self.folder / path), "template file not found") from None
        except TemplateSyntaxError as exc:
            where = f"{self.folder / path}, line {exc.lineno}"
            raise CampaignError(where, f"template syntax error: {exc.message}") from None
        except SecurityError as exc:
            where = f"{self.folder / path}{_line_of(exc, path)}"
            raise CampaignError(where, f"not allowed in a template: {exc}") from None
        except UndefinedError as exc:
            where = f"{self.folder / path}{_line_of(exc, path)}"
            raise CampaignError(where, f"{exc.message} (define it under [vars])") from None
        except TemplateError as exc:
            where = f"{self.folder / path}{_line_of(exc, path)}"
            raise CampaignError(where, str(exc)) from None
        # Trailing spaces on lines are never intended and vary between editors.
        return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _line_of(exc: BaseException, path: str) -> str:
    """Jinja2 rewrites tracebacks so the template's own frames carry its line numbers."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f", line {line}" if line else ""
