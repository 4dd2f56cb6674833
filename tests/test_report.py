"""`advisor report` per the acceptance list: content, formats, escaping, safe writing,
reproducibility. The browser check is in test_report_browser.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from advisor.cli.app import run
from tests.conftest import assert_user_error

DATA = Path(__file__).parent / "data"
EVIL = "<script>alert(1)</script> \"quoted\" 'single' & co | `tick` *star*"
EVIL_HTML = (
    "&lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34; &#39;single&#39; &amp; co | "
    "`tick` *star*"
)
EVIL_MD = (
    "&lt;script&gt;alert(1)&lt;/script&gt; \"quoted\" 'single' &amp; co \\| \\`tick\\` \\*star\\*"
)


@pytest.fixture(scope="module")
def report_1_3b(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The acceptance command, run once for the module: its file and wall time."""
    out = tmp_path_factory.mktemp("report") / "r.html"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ADVISOR_CATALOG", raising=False)
        started = time.perf_counter()
        code = run(["report", "--params", "1.3B", "--budget", "5000", "--out", str(out)])
        elapsed = time.perf_counter() - started
    assert code == 0
    return out, elapsed


def test_acceptance_command_is_fast_and_names_the_same_top_option(report_1_3b, cli) -> None:
    path, elapsed = report_1_3b
    assert elapsed < 30, elapsed
    rec = json.loads(cli("recommend", "--params", "1.3B", "--budget", "5000", "--json").out)
    top = rec["options"][0]
    html = path.read_text(encoding="utf-8")
    head = re.search(r'<section id="answer"[^>]*>\s*<h2>(.*?)</h2>', html, re.S)
    assert head is not None
    assert f"Rent {top['nodes']} x {top['offering']}" in head.group(1)
    first_row = re.search(r'<tr class="best">(.*?)</tr>', html, re.S)
    assert first_row is not None and top["offering"] in first_row.group(1)


def test_report_has_every_section_with_titled_figures(report_1_3b) -> None:
    html = report_1_3b[0].read_text(encoding="utf-8")
    for section in (
        "answer",
        "options",
        "cost-time",
        "memory",
        "step-time",
        "sensitivity",
        "accuracy",
        "job",
        "sources",
    ):
        assert f'<section id="{section}"' in html, section
    assert 'id="calibration"' not in html  # only with --profile
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) == 5  # cost-time, memory, step time, sensitivity, accuracy
    for tag in svgs:
        assert 'role="img"' in tag and 'aria-label="' in tag
        assert " width=" not in tag  # scales with the page
    for label in (
        "time to train (hours",
        "cost (USD",
        "memory per device (GiB",
        "share of step time (%)",
        "change in cost against the estimate (%)",
        "measured tokens/s per GPU",
    ):
        assert label in html, label  # axis labels, also in each figure's glyph-free alt text
    assert "range $" in html
    assert "It beat the runner-up" in html
    assert "held out" in html and "Pareto front" in html


def test_page_is_self_contained(report_1_3b) -> None:
    html = report_1_3b[0].read_text(encoding="utf-8")
    assert "default-src 'none'" in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?:https?:|//|file:)""", html, re.I)
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"url\(\s*['\"]?(?:https?:|//)", html)
    assert "<link" not in html.replace('<link rel="icon" href="data:,">', "")
    assert html.count("<script") == 1  # the inline sorter, allowed by its hash
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script is not None
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "figures share ids"


def test_same_inputs_give_identical_bytes(tmp_path, cli) -> None:
    args = ["report", "--params", "125M", "--budget", "2000", "--deadline", "30d"]
    outs = []
    for i, fmt in enumerate(("html", "html", "md", "md", "json", "json")):
        out = tmp_path / f"r{i}.{fmt}"
        r = cli(*args, "--format", fmt, "--out", out)
        assert r.code == 0, r.err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[2] == outs[3]
    assert outs[4] == outs[5]


def test_markdown_and_json_carry_the_same_answer(tmp_path, cli) -> None:
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    assert (
        cli("report", "--params", "125M", "--budget", "2000", "--format", "md", "--out", md).code
        == 0
    )
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "json", "--out", "-")
    assert r.code == 0, r.err
    js.write_text(r.out)
    d = json.loads(r.out)
    top = d["options"][0]
    assert d["answer"]["option"]["offering"] == top["offering"]
    lo, hi = d["answer"]["cost_usd"]["low"], d["answer"]["cost_usd"]["high"]
    assert lo < top["cost_usd"] < hi
    text = md.read_text()
    assert text.startswith("# Training hardware for ")
    assert f"| 1 | {top['provider']} | {top['offering']} |" in text
    assert "## Sources" in text and "## Accuracy against published runs" in text
    assert "<svg" not in text
    assert {"sources", "sensitivity", "accuracy", "points"} <= set(d)


def test_sensitivity_is_rescored_through_the_model(tmp_path, cli) -> None:
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "json", "--out", "-")
    d = json.loads(r.out)
    first = d["options"][0]
    sc = {s["name"]: s for s in d["sensitivity"][0]["scenarios"]}
    base = sc["as estimated"]
    assert base["time_s"] == pytest.approx(first["wall_time_s"], rel=1e-9)  # + provisioning
    assert base["cost_usd"] == pytest.approx(first["cost_usd"], rel=1e-9)
    t08, t09, t11 = (sc[f"efficiency x{f}"]["time_s"] for f in ("0.8", "0.9", "1.1"))
    assert t08 > t09 > base["time_s"] > t11
    # Communication is not scaled, so time does not scale exactly as 1/efficiency.
    assert t09 / base["time_s"] <= 1 / 0.9 + 1e-9
    assert sc["price x1.2"]["cost_usd"] == pytest.approx(1.2 * base["cost_usd"])
    assert sc["price x1.2"]["time_s"] == base["time_s"]


def _evil_catalog(tmp_path: Path) -> Path:
    cat = {
        "offerings": [
            {
                "id": "lambda-gpu-8x-b200-sxm6",
                "provider": EVIL,
                "on_demand_usd_per_hour": {
                    "value": 0.5,
                    "source": EVIL,
                    "as_of": "2026-11-01",
                    "note": EVIL,
                },
            }
        ],
        "accelerators": [{"id": "b200-sxm-180gb", "name": EVIL}],
    }
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(cat, allow_unicode=True))
    return path


def _evil_config(tmp_path: Path) -> Path:
    folder = tmp_path / 'cfg <b>&"q"'
    folder.mkdir()
    cfg = json.loads((DATA / "gpt2-config.json").read_text())
    cfg["_name_or_path"] = EVIL
    path = folder / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_user_strings_are_text_never_markup(tmp_path, cli) -> None:
    cat, cfg = _evil_catalog(tmp_path), _evil_config(tmp_path)
    common = ["report", "--hf-config", cfg, "--budget", "5000", "--catalog", cat]
    html_out, md_out, js_out = tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.json"
    for fmt, out in (("html", html_out), ("md", md_out), ("json", js_out)):
        r = cli(*common, "--format", fmt, "--out", out)
        assert r.code == 0, r.err
    html = html_out.read_text()
    assert html.count("<script") == 1
    assert "alert(1)</script>" not in html and "<b>" not in html
    assert EVIL_HTML in html
    # the model name (title), the provider and accelerator name (answer, table), the
    # price's source and note (sources table) and the config path (the job)
    assert html.count(EVIL_HTML) >= 6
    assert "cfg &lt;b&gt;&amp;&#34;q&#34;" in html
    md = md_out.read_text()
    assert "<script" not in md and "<b>" not in md
    assert EVIL_MD in md
    d = json.loads(js_out.read_text())
    assert d["model"]["name"] == EVIL
    assert d["options"][0]["provider"] == EVIL


def test_calibration_section_with_a_profile(tmp_path, cli) -> None:
    from advisor.catalog import load_catalog

    prof = load_catalog().profiles["a100-sxm4-80gb-fit"].model_dump(mode="json")
    prof["id"] = "my-a100"
    path = tmp_path / "my-a100.json"
    path.write_text(json.dumps(prof))
    out = tmp_path / "r.html"
    r = cli(
        "report",
        "--params",
        "125M",
        "--budget",
        "2000",
        "--accelerators",
        "a100-sxm4-80gb",
        "--profile",
        path,
        "--out",
        out,
    )
    assert r.code == 0, r.err
    html = out.read_text()
    assert '<section id="calibration">' in html
    assert "Calibration: profile my-a100" in html  # the figure's title
    assert "my-a100.json" in html
    assert html.count("<svg") == 6


def test_shortfall_reports_what_the_budget_buys(tmp_path, cli) -> None:
    out = tmp_path / "r.html"
    r = cli("report", "--params", "1.3B", "--budget", "10", "--out", out)
    assert r.code == 0, r.err
    html = out.read_text()
    assert "No option meets the budget and deadline" in html
    assert "The budget buys" in html
    assert "these are the nearest" in html
    assert "no option within the limits" in r.err


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_bad_output_path_is_a_clear_usage_error(tmp_path, cli, where) -> None:
    target = tmp_path / "nope" / "r.html" if where == "missing" else tmp_path
    before = sorted(tmp_path.rglob("*"))
    r = cli("report", "--params", "125M", "--budget", "2000", "--out", target)
    assert_user_error(r, 2, "--out")
    assert ("does not exist" if where == "missing" else "is a folder") in r.err
    assert sorted(tmp_path.rglob("*")) == before


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    from advisor import files
    from advisor.errors import DataError
    from advisor.report import render

    target = tmp_path / "r.html"
    target.write_text("old")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(DataError, match="No space left"):
        render.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_interrupted_render_leaves_nothing(tmp_path, cli, monkeypatch) -> None:
    from advisor.report import render

    def boom(data, fmt):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "render", boom)
    r = cli("report", "--params", "125M", "--budget", "2000", "--out", tmp_path / "r.html")
    assert r.code == 130
    assert list(tmp_path.iterdir()) == []


def test_default_output_goes_to_reports_folder(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "md")
    assert r.code == 0, r.err
    files = list((tmp_path / "reports").iterdir())
    from advisor.model.presets import from_params

    assert [f.name for f in files] == [f"{from_params(125e6).name}-2000usd.md"]
    assert oct(files[0].stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_bad_format_and_bad_options_are_usage_errors(cli) -> None:
    assert_user_error(cli("report", "--params", "125M", "--format", "pdf"), 2, "format")
    assert_user_error(cli("report", "--params", "125M", "--pricing", "cheap"), 2, "pricing")
    assert_user_error(cli("report", "--params", "1.3B", "--budget", "-5"), 2, "--budget")


def test_report_takes_every_recommend_option() -> None:
    import typer

    from advisor.cli.app import app

    cmd = typer.main.get_command(app)
    names = {
        c: {o for p in cmd.commands[c].params for o in p.opts}  # type: ignore[attr-defined]
        for c in ("recommend", "report")
    }
    assert names["recommend"] - {"--csv", "--json"} <= names["report"]
    assert {"--out", "--format", "--profile"} <= names["report"]


def test_other_commands_never_import_matplotlib_or_jinja2() -> None:
    code = (
        "import sys; from advisor.cli.app import run; "
        "run(['recommend', '--params', '125M', '--budget', '2000', '--json']); "
        "run(['estimate', '--params', '125M', '--accelerator', 'a100-sxm4-80gb', '--json']); "
        "bad = [m for m in ('matplotlib', 'jinja2', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert r.returncode == 0, r.stderr[-2000:]
