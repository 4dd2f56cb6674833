"""Each in-process benchmark on a tiny size, the small GPT, and the training worker."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from advisor.benchmarks.harness import Context, tiny_context  # noqa: E402
from advisor.benchmarks.results import BenchResult, GPTShape, TrainRequest  # noqa: E402
from advisor.benchmarks.runner import run_local  # noqa: E402

TINY = GPTShape(name="t", layers=2, hidden=32, heads=4, vocab=64, seq_len=16, batch=2)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return tiny_context(Context(device="cpu", threads=1, scratch=tmp_path))


def _run(name: str, ctx: Context) -> BenchResult:
    result = run_local(name, ctx)
    assert result.status == "ok", result.reason
    assert result.rows
    BenchResult.model_validate(result.model_dump())  # every row is a valid record
    return result


def test_matmul(ctx: Context) -> None:
    r = _run("matmul", ctx)
    dtypes = {(row.dtype, row.mode) for row in r.rows}
    assert ("fp32", "native") in dtypes
    for row in r.rows:
        assert row.flops == 2 * row.m * row.n * row.k
        assert row.tflops == pytest.approx(row.flops / row.time.median_s / 1e12)
    assert any(n.startswith("max fp32") for n in r.notes)


def test_attention_flop_convention(ctx: Context) -> None:
    from advisor.benchmarks.attention import attention_flops, naive, sdpa

    assert attention_flops(1, 1, 4, 2, causal=False, backward=False) == 4 * 16 * 2
    assert attention_flops(1, 1, 4, 2, causal=True, backward=False) == 2 * 16 * 2
    assert attention_flops(1, 1, 4, 2, causal=True, backward=True) == 3 * 2 * 16 * 2
    q, k, v = (torch.randn(1, 2, 8, 4) for _ in range(3))
    for causal in (True, False):
        assert torch.allclose(naive(q, k, v, causal), sdpa(q, k, v, causal), atol=1e-5)
    r = _run("attention", ctx)
    assert {row.impl for row in r.rows} == {"naive", "sdpa"}
    assert {row.direction for row in r.rows} == {"forward", "forward_backward", "backward"}


def test_adam(ctx: Context) -> None:
    from advisor.benchmarks.adam import adam_bytes, parameter_shapes
    from advisor.benchmarks.gpt import GPT, param_count

    assert adam_bytes(10) == 280
    assert sum(s.numel() for s in parameter_shapes(TINY)) == param_count(GPT(TINY))
    r = _run("adam", ctx)
    impls = {row.impl for row in r.rows}
    assert {"for-loop", "foreach"} <= impls
    assert sum(row.default_impl for row in r.rows) == 1  # one size in the tiny run


def test_amp(ctx: Context) -> None:
    r = _run("amp", ctx)
    first = r.rows[0]
    assert first.precision == "fp32" and first.speedup_vs_fp32 == 1.0
    assert all(row.loss > 0 for row in r.rows)


def test_membw(ctx: Context) -> None:
    r = _run("membw", ctx)
    kernels = {row.kernel for row in r.rows}
    assert kernels == {"copy", "triad", "fill", "alloc"}
    for row in r.rows:
        per = {"copy": 2, "triad": 3, "fill": 1, "alloc": 1}[row.kernel]
        assert row.bytes_moved == per * 4 * row.elements


def test_elementwise(ctx: Context) -> None:
    r = _run("elementwise", ctx)
    assert {row.op for row in r.rows} == {"norm", "activation", "softmax"}  # fp32 only when tiny
    for row in r.rows:
        assert row.elements == row.rows * row.width
        assert row.direction == "forward_backward"
        assert row.gelems == pytest.approx(row.elements / row.time.median_s / 1e9)


def test_elementwise_casts_in_bf16(ctx: Context) -> None:
    from advisor.benchmarks.elementwise import _casts

    for impl, fn in _casts("bf16", 4096, "cpu"):
        assert "bf16" in impl and fn().numel() == 4096


def test_allocator_peak_above_live_tensors(ctx: Context) -> None:
    r = _run("allocator", ctx)
    # fp32, and bf16 autocast where this CPU runs it (calibrate fits each one's efficiency)
    assert r.rows[0].precision == "fp32"
    for row in r.rows:
        assert 0 < row.allocated_bytes < row.peak_bytes  # the process holds more than tensors
        assert row.params > 0 and row.time.repeats == 5


def test_live_peak_counts_what_one_step_allocates() -> None:
    from advisor.benchmarks.gpt import GPT, batch
    from advisor.benchmarks.train_step import live_peak_bytes
    from advisor.benchmarks.training import TrainStep

    torch.manual_seed(0)
    model = GPT(TINY)
    x, y = batch(TINY, "cpu")
    step = TrainStep(model, x, y, "fp32", "cpu")
    step()  # AdamW state exists from here on
    peak = live_peak_bytes(step)
    params = sum(p.numel() for p in model.parameters())
    assert peak is not None and peak > 12 * params  # weights, moments, and the step's tensors


def test_storage(ctx: Context, tmp_path: Path) -> None:
    r = _run("storage", ctx)
    row = r.rows[0]
    assert row.cache_bypass in ("o_direct", "fadvise", "none")
    assert row.mbps > 0
    assert not list(tmp_path.glob("*.scratch"))  # the scratch file is removed


def test_overhead(ctx: Context) -> None:
    from advisor.benchmarks.overhead import PROBE

    r = _run("overhead", ctx)
    for row in r.rows:
        assert row.peak_bytes > 0
        assert row.overhead_bytes == pytest.approx(max(0.0, row.peak_bytes - row.tensor_bytes))
        assert row.time is not None and row.tokens == PROBE.batch * PROBE.seq_len


def test_failing_benchmark_is_recorded_not_raised(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = importlib.import_module("advisor.benchmarks.membw")

    def broken(c: Context) -> None:
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(mod, "run", broken)
    r = run_local("membw", ctx)
    assert r.status == "failed" and "kernel exploded" in (r.reason or "")


def test_gpt_parameters_match_advisor_count() -> None:
    from advisor.benchmarks.gpt import GPT, param_count
    from advisor.model.params import count_params
    from advisor.validate import model_spec

    for shape in (TINY, GPTShape(layers=3, hidden=48, heads=3, vocab=100, seq_len=20)):
        assert param_count(GPT(shape)) == count_params(model_spec(shape)).total


def test_training_step_learns() -> None:
    from advisor.benchmarks.gpt import GPT, batch
    from advisor.benchmarks.training import TrainStep

    torch.manual_seed(0)
    model = GPT(TINY)
    x, y = batch(TINY, "cpu")
    step = TrainStep(model, x, y, "fp32", "cpu")
    first = step.loss()
    for _ in range(10):
        step()
    assert step.loss() < first


def test_tensor_parallel_qkv_order_keeps_whole_heads() -> None:
    from advisor.benchmarks.tensor_parallel import qkv_order

    order = qkv_order(hidden=4, t=2).tolist()
    # shard 0 holds Q rows 0-1, K rows 0-1, V rows 0-1; shard 1 the rest
    assert order == [0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]


def test_train_step_worker_in_fresh_process() -> None:
    from advisor.benchmarks.train_step import run_in_subprocess

    m = run_in_subprocess(TrainRequest(model=TINY, steps=2, warmup=1, threads=1))
    assert m.params > 0 and m.tokens == TINY.batch * TINY.seq_len
    assert m.peak_bytes > 0 and m.time.repeats == 2
    assert m.loss_last < m.loss_first + 1.0


def test_train_step_worker_failure_is_reported() -> None:
    from advisor.benchmarks.train_step import run_in_subprocess

    bad = TrainRequest(model=GPTShape(layers=1, hidden=30, heads=4, vocab=8, seq_len=4))
    with pytest.raises(RuntimeError, match="training worker"):
        run_in_subprocess(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible)")
def test_matmul_on_cuda(tmp_path: Path) -> None:
    c = tiny_context(Context(device="cuda", scratch=tmp_path))
    r = _run("matmul", c)
    assert {"fp32", "tf32", "bf16"} <= {row.dtype for row in r.rows}
    r = _run("membw", c)
    assert {"h2d", "d2h"} <= {row.kernel for row in r.rows}
