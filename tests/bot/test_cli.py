"""The `jianfu` console script: each subcommand through `main()`, on a migrated test database."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.conftest import CONFIG


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    """config.toml pointing at the test database."""
    path = tmp_path / "config.toml"
    text = CONFIG.read_text(encoding="utf-8").replace('url = "sqlite:///data/jianfu.db"', f'url = "{sqlite_url}"')
    path.write_text(text, encoding="utf-8")
    return path


def test_invite_prints_the_code_alone_on_its_last_line(config: Path, capsys: Any) -> None:
    assert main(["invite", "--config", str(config), "--role", "clerk", "--department", "民政局"]) == 0
    code = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(code) == 8 and code.isalnum() and code.isupper()


def test_invite_for_an_unknown_community_says_so(config: Path, capsys: Any) -> None:
    assert main(["invite", "--config", str(config), "--role", "head", "--community", "火星社区"]) == 1
    assert "火星社区" in capsys.readouterr().err


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys: Any) -> None:
    assert main(["db", "upgrade", "--config", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "none.toml" in err and len(err.splitlines()) == 1


def test_classify_jsonl_answers_every_line(config: Path, capsys: Any, monkeypatch: Any) -> None:
    lines = [
        json.dumps({"id": "a", "text": "请各社区月底前报送低保月报表", "now": "2026-11-27T10:00:00+08:00",
                    "sender_department": "民政局"}, ensure_ascii=False),
        "not json",
        json.dumps({"id": "c", "text": "请各社区12月5日前报送", "now": "yesterday", "sender_department": None}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["classify", "--config", str(config), "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "c"]
    assert out[0]["kind"] == "report" and out[0]["deadline"] == "2026-11-30" and out[0]["listing"] == "assist"
    assert "error" in out[1] and "error" in out[2]


def test_eval_reports_accuracy_on_the_corpus(config: Path, capsys: Any) -> None:
    corpus = Path(__file__).resolve().parent.parent / "data" / "dev.jsonl"
    assert main(["eval", "--config", str(config), str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] == 60
    assert report["accuracy"]["kind"] >= 0.92 and report["accuracy"]["listing"] >= 0.92
    assert set(report["confusion"]) >= {"kind", "listing"}
    assert len(report["misses"]) < 60


def test_admin_create_reads_the_password_from_stdin(config: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["admin", "create", "--config", str(config), "wang", "--role", "viewer"]) == 0
    assert "wang" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin", "create", "--config", str(config), "li"]) == 2
    assert "8" in capsys.readouterr().err


def test_export_tasks_jsonl_with_no_tasks_is_empty(config: Path, capsys: Any) -> None:
    assert main(["export", "tasks", "--config", str(config), "--format", "jsonl"]) == 0
    assert capsys.readouterr().out.strip() == ""
