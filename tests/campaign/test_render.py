from pathlib import Path

import pytest

from campaign.render import Renderer
from core.errors import CampaignError


def _renderer(tmp_path: Path, body: str) -> Renderer:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.en.j2").write_text(body, encoding="utf-8")
    return Renderer(tmp_path)


def test_renders_plain_text_without_escaping(tmp_path: Path) -> None:
    text = _renderer(tmp_path, "{{ force }} & <b>{{ item }}</b>  \n").render(
        "t", "en", {"force": "Gwent Police", "item": "Talk"}
    )
    assert text == "Gwent Police & <b>Talk</b>"


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(CampaignError) as err:
        _renderer(tmp_path, "line one\n{{ helpline }}").render("t", "en", {})
    assert "t.en.j2, line 2" in str(err.value) and "helpline" in str(err.value)


def test_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(CampaignError) as err:
        _renderer(tmp_path, "ok\nok\n{% if %}").render("t", "en", {})
    assert "line 3" in str(err.value) and "syntax" in str(err.value)


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    with pytest.raises(CampaignError) as err:
        _renderer(tmp_path, "{{ ''.__class__.__mro__ }}").render("t", "en", {})
    assert "not allowed" in str(err.value) or "undefined" in str(err.value)
    (tmp_path / "b").mkdir()
    with pytest.raises(CampaignError, match=r"not allowed|undefined"):
        _renderer(tmp_path / "b", "{{ item.__init__.__globals__ }}").render(
            "t", "en", {"item": "x"}
        )


def test_missing_template(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="template file not found"):
        _renderer(tmp_path, "x").render("nope", "en", {})
