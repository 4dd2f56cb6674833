"""A clean install (issue 14): a distribution name that is not `advisor`, one top-level
import package in the wheel with the catalog, templates and benchmark suite inside it,
found through one resource lookup. `.ci/wheel-smoke` installs the wheel into a fresh
virtual environment and runs it from another folder; these tests check the pieces."""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

import pytest

from advisor.resources import shipped_dir

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_distribution_is_not_named_advisor_but_the_command_is() -> None:
    project = _pyproject()["project"]
    assert project["name"] != "advisor"
    assert project["scripts"] == {"advisor": "advisor.cli.app:main"}


def test_shipped_data_is_found_in_the_source_tree() -> None:
    assert (shipped_dir("catalog") / "accelerators.yaml").is_file()
    assert (shipped_dir("templates") / "report.html.j2").is_file()


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    builders = pytest.importorskip("hatchling.builders.wheel", reason="hatchling not installed")
    out = tmp_path_factory.mktemp("wheel")
    (path,) = builders.WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return set(zipfile.ZipFile(path).namelist())


def test_the_wheel_holds_one_import_package_with_its_data(wheel_names: set[str]) -> None:
    tops = {n.split("/")[0] for n in wheel_names if ".dist-info/" not in n}
    assert tops == {"advisor"}
    shipped = {p.name for p in (ROOT / "hardware_catalog").rglob("*.yaml")}
    packaged = {
        Path(n).name for n in wheel_names if n.startswith("advisor/_data/hardware_catalog/")
    }
    assert shipped == packaged
    assert "advisor/_data/templates/report.html.j2" in wheel_names
    suite = {f"advisor/benchmarks/{p.name}" for p in (ROOT / "advisor" / "benchmarks").glob("*.py")}
    assert suite <= wheel_names


def test_the_readme_installs_and_runs_the_main_job_first() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert "pip install ." in blocks[0]
    assert blocks[0].strip().endswith("advisor recommend --params 1.3B --budget 5000")
    assert "python -m pytest" in blocks[1]


def test_ci_smoke_checks_the_clean_install() -> None:
    smoke = (ROOT / ".ci" / "wheel-smoke").read_text()
    assert "bash .ci/wheel-smoke" in (ROOT / ".ci" / "run").read_text()
    for needle in ("import $name", 'pip" show "$dist"', "recommend --params 1.3B --budget 5000"):
        assert needle in smoke, needle


def test_the_gpu_suite_keeps_its_path() -> None:
    script = ROOT / "benchmarks" / "gpu_suite.sh"
    assert script.is_file()
    assert "advisor.cli.app" in script.read_text()
