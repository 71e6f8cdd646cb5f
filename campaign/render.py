"""Sandboxed Jinja2 rendering of campaign templates.

``StrictUndefined``: a misspelt variable is an error, never an empty string.
``SandboxedEnvironment``: a template cannot reach Python internals.
Errors name the template file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from core.errors import CampaignError

from .loader import MAX_TEXT_BYTES, decode_utf8, inside, read_limited


class OutsideFolder(TemplateNotFound):
    """A template (or an include) that leads outside the campaign folder."""


class _CampaignLoader(BaseLoader):
    """Templates from the campaign folder only: ``../x.j2``, an absolute path or a symbolic
    link leading out is refused (a template must not read other files on the server); a
    file that is not UTF-8 is refused naming its line."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = inside(self.folder, template)
        if path is None:
            raise OutsideFolder(template)
        try:
            data = read_limited(path, MAX_TEXT_BYTES)
        except OSError:
            raise TemplateNotFound(template) from None
        except ValueError as exc:
            raise CampaignError(str(self.folder / template), str(exc)) from None

        def uptodate() -> bool:
            # An environment is kept between plans (templates compiled once): a template
            # is compiled again when its bytes change, whatever its modification time says.
            try:
                return read_limited(path, MAX_TEXT_BYTES) == data
            except (OSError, ValueError):
                return False

        return decode_utf8(data, self.folder / template), str(path), uptodate


# One environment per campaign folder, kept between plans so each template is compiled once
# per process, not once per plan (a year's plan or a web preview renders the same handful).
_ENVIRONMENTS: dict[Path, SandboxedEnvironment] = {}
_MAX_ENVIRONMENTS = 64


def _environment(folder: Path) -> SandboxedEnvironment:
    key = folder.resolve()
    env = _ENVIRONMENTS.get(key)
    if env is None:
        if len(_ENVIRONMENTS) >= _MAX_ENVIRONMENTS:
            _ENVIRONMENTS.pop(next(iter(_ENVIRONMENTS)))
        env = _ENVIRONMENTS[key] = SandboxedEnvironment(
            loader=_CampaignLoader(folder),
            undefined=StrictUndefined,
            autoescape=False,  # posts are plain text, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=True,
        )
    return env


class Renderer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = _environment(folder)
        self._cache: dict[str, Any] = {}

    def template_path(self, name: str, language: str) -> str:
        return f"templates/{name}.{language}.j2"

    def exists(self, name: str, part: str) -> bool:
        """Whether ``templates/<name>.<part>.j2`` is there (e.g. the optional ``closing``)."""
        path = inside(self.folder, self.template_path(name, part))
        return path is not None and path.is_file()

    def render(self, name: str, language: str, context: dict[str, Any]) -> str:
        path = self.template_path(name, language)
        try:
            template = self._cache.get(path)
            if template is None:
                template = self._cache[path] = self.env.get_template(path)
            text = template.render(context)
        except TemplateNotFound as exc:
            # The missing one may be an include: name it, and the template that asked.
            missing = exc.name or path
            if isinstance(exc, OutsideFolder):
                message = f"{missing} is outside the campaign folder; templates live in templates/"
            else:
                message = f"template file {self.folder / missing} not found"
            if missing == path:
                if not isinstance(exc, OutsideFolder):
                    message = "template file not found"
                raise CampaignError(str(self.folder / path), message) from None
            where = f"{self.folder / path}{_line_of(exc, path)}"
            raise CampaignError(where, f"include refused: {message}") from None
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
