"""Naming the hardware: suggestions are sensible ids, and a profile names its accelerator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.catalog import load_catalog
from tests.conftest import assert_user_error

ESTIMATE = ["estimate", "--params", "1.3B", "--count", "8"]


@pytest.mark.parametrize(
    ("typed", "means"),
    [
        ("nvidia-h100", "H100"),
        ("NVIDIA-H100-GPU", "H100"),
        ("h10", "H100"),
        ("nvidia-h100-pcie", "H100-PCIe"),
        ("nvidia-a100", "A100"),
        ("a100-sxm4-80g", "A100-80GB"),
        ("v100-32", "V100-32GB"),
    ],
)
def test_unknown_accelerator_suggests_the_nearest_sensible_id(cli, typed: str, means: str) -> None:
    want = load_catalog().accelerator(means).id
    r = cli(*ESTIMATE, "--accelerator", typed)
    assert_user_error(r, 2, f"unknown accelerator '{typed}'", f"did you mean '{want}'?")


def test_suggestion_is_an_id_never_an_alias(cli) -> None:
    ids = set(load_catalog().accelerators)
    for typed in ("nvidia-h100", "b100", "nvidia-l40", "mi300"):
        err = cli(*ESTIMATE, "--accelerator", typed).err
        assert "did you mean '" in err, err
        assert err.split("did you mean '")[1].split("'")[0] in ids


def _profile(tmp_path: Path) -> Path:
    p = tmp_path / "profile.json"
    p.write_text(json.dumps({"id": "mine", "accelerator": "h100-sxm5-80gb"}))
    return p


def test_profile_implies_its_accelerator(cli, tmp_path: Path) -> None:
    r = cli(*ESTIMATE, "--profile", _profile(tmp_path), "--json")
    assert r.code == 0, r.err
    hw = json.loads(r.out)["hardware"]
    assert hw["accelerator"] == "h100-sxm5-80gb" and hw["devices"] == 8
    assert hw["profile"] == "mine"


def test_profile_and_a_conflicting_accelerator_is_a_usage_error(cli, tmp_path: Path) -> None:
    r = cli(*ESTIMATE, "--profile", _profile(tmp_path), "--accelerator", "a100")
    assert_user_error(r, 2, "h100-sxm5-80gb", "a100-sxm4-80gb")
