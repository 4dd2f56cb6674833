"""Issue 9: the global batch is honoured, dropped hardware is named, and the limits that
bind are said (through the CLI and the public API)."""

from __future__ import annotations

import json

from advisor.layout import default_batch_tokens
from advisor.model.select import resolve_model
from advisor.search import enumerate_plans
from tests.conftest import assert_user_error

H100_2048 = ("--accelerator", "h100", "--count", "2048", "--seq-len", "2048")


def _json(cli, *args):
    r = cli(*args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _step_tokens(d) -> int:
    p = d["plan"]
    return p["dp"] * p["micro_batch"] * p["grad_accum"] * d["model"]["seq_len"]


# --- item 3: --global-batch-tokens is honoured; the default does not grow with scale ----


def test_a_batch_some_layout_gives_is_kept_exactly(cli) -> None:
    asked = 1536 * 2048  # 1,536 sequences: no power-of-two data-parallel width is it
    d = _json(cli, "estimate", "--params", "7B", *H100_2048, "--global-batch-tokens", asked)
    assert d["global_batch_tokens"] == asked
    assert _step_tokens(d) == asked
    assert not any("rounded" in a for a in d["assumptions"])


def test_a_batch_no_layout_gives_is_rounded_by_little_and_said(cli) -> None:
    d = _json(cli, "estimate", "--params", "7B", *H100_2048, "--global-batch-tokens", "4M")
    used = d["global_batch_tokens"]
    assert used == _step_tokens(d)
    assert abs(used / 4e6 - 1) <= 0.05
    note = [a for a in d["assumptions"] if "rounded" in a]
    assert note and "4,000,000" in note[0] and f"{used:,.0f}" in note[0]


def test_default_batch_does_not_grow_with_the_device_count(cli) -> None:
    d = _json(cli, "estimate", "--params", "1.3B", "--accelerator", "h100", "--count", "4096")
    default = default_batch_tokens(d["params"])
    assert d["global_batch_tokens"] <= 1.05 * default
    assert any("Table 2.1" in a and "capped" in a for a in d["assumptions"])


def test_recommend_keeps_every_option_within_the_batch(cli) -> None:
    d = _json(cli, "recommend", "--params", "1.3B", "--budget", "1M", "--max-devices", "8192")
    batch = d["query"]["global_batch_tokens"]
    assert batch == default_batch_tokens(d["query"]["params"])
    for o in d["options"]:
        assert o["global_batch_tokens"] <= 1.05 * batch
        assert o["plan"]["dp"] * o["plan"]["micro_batch"] * d["query"]["seq_len"] <= batch
    assert any("limits scale" in n for n in d["notes"])


def test_no_plan_puts_more_sequences_in_a_micro_step_than_the_batch_holds() -> None:
    spec = resolve_model("1.3B", None, None, seq_len=2048)
    batch = 1e6
    plans = enumerate_plans(spec, [64, 512, 4096], 8, batch)
    assert len(plans) > 0
    assert (plans.dp * plans.mb * spec.seq_len <= batch).all()


def test_a_batch_too_small_for_the_devices_says_it_limits_scale(cli) -> None:
    r = cli(
        "estimate", "--params", "7B", "--accelerator", "h100", "--count", "64",
        "--global-batch-tokens", "100k", "--tp", "1", "--pp", "1",
    )  # fmt: skip
    assert_user_error(r, 2, "limits scale", "--global-batch-tokens")


# --- item 7: hardware asked for is never dropped silently; an NVL72 rack is expressible ----

# tpu-v7 has offerings but no price (hardware-2026.md §5); mi300x gained one (Crusoe, 2026).
ASKED = ("--accelerators", "tpu-v7,gaudi3,trainium2,h100")


def test_recommend_names_each_accelerator_it_leaves_out_and_why(cli) -> None:
    d = _json(cli, "recommend", "--params", "7B", "--budget", "50k", *ASKED)
    why = {x["accelerator"]: x["reason"] for x in d["dropped"]}
    assert set(why) == {"tpu-v7", "gaudi3", "trainium2"}
    assert "no on-demand price" in why["tpu-v7"]
    assert "no offering" in why["gaudi3"]
    assert "--pricing spot" in why["trainium2"]  # it has a spot price
    assert {o["hardware"]["accelerator"] for o in d["options"]} == {"h100-sxm5-80gb"}
    r = cli("recommend", "--params", "7B", "--budget", "50k", *ASKED)
    assert r.code == 0
    for acc in ("tpu-v7", "gaudi3", "trainium2"):
        assert f"left out {acc}" in r.out


def test_when_every_accelerator_asked_for_is_left_out_the_error_says_why(cli) -> None:
    r = cli("recommend", "--params", "7B", "--budget", "50k", "--accelerators", "tpu-v7,gaudi3")
    assert_user_error(r, 1, "tpu-v7: no on-demand price", "gaudi3: no offering")


def test_a_gb200_nvl72_rack_is_one_nvlink_domain(cli) -> None:
    d = _json(cli, "estimate", "--params", "70B", "--accelerator", "gb200", "--count", "72")
    hw = d["hardware"]
    assert (hw["devices"], hw["devices_per_node"], hw["nodes"]) == (72, 72, 1)
    assert d["fits"]
    assert any("chip-link domain" in a for a in d["assumptions"])
    t8 = _json(cli, "estimate", "--params", "70B", "--accelerator", "gb200", "--count", "72",
               "--tp", "8")  # fmt: skip
    assert t8["plan"]["tp"] == 8 and t8["plan"]["dp"] * 8 * t8["plan"]["pp"] == 72


# --- item 10: the limit that binds is named; no promise of what cannot be priced -----------


def test_a_deadline_without_budget_names_max_devices_and_what_fits(cli) -> None:
    d = _json(cli, "recommend", "--params", "70B", "--deadline", "1d")
    s = d["shortfall"]
    assert s["binding"] == ["--deadline", "--max-devices"]
    assert "budget" not in s["reason"].lower() and "budget" not in s["what_fits"].lower()
    assert s["devices_needed"] > d["query"]["max_devices"]
    assert s["fastest_time_s"] > d["query"]["deadline_s"]
    assert s["tokens_budget_buys"] < d["query"]["tokens"]
    assert "parameters" in s["what_fits"]
    r = cli("recommend", "--params", "70B", "--deadline", "1d")
    assert r.code == 0
    assert "budget" not in r.out.lower()
    assert "--max-devices 1024 binds" in " ".join(r.out.split())
    assert f"{s['devices_needed']:,} devices" in " ".join(r.out.split())


def test_a_pricing_no_offering_has_is_refused_listing_what_is_priced(cli) -> None:
    # No AWS offering has a reserved price (Hyperstack's RTX PRO 6000 has one).
    q = ["--params", "1.3B", "--budget", "5000", "--providers", "aws"]
    r = cli("recommend", *q, "--pricing", "reserved")
    assert_user_error(r, 1, "reserved price", "on-demand for", "spot for", "--catalog")
    assert "an reserved" not in r.err
