#!/usr/bin/env bash
# Measure a GPU profile in one command: the quick benchmark suite on CUDA, calibration,
# and validation against real training steps. Takes a few minutes on one H100/H200.
#
#   bash benchmarks/gpu_suite.sh [OUT_DIR]      (default: $OUT, else ./gpu-results)
#
# Writes into OUT_DIR: bench.json (results), bench.log, profile.yaml (the device profile),
# calibrate.txt, validate.json, validate.txt and summary.txt (wall times). Runs from a
# source checkout without installing: the repository root goes on PYTHONPATH. Needs
# torch with CUDA, pydantic, typer, rich, pyyaml, numpy and psutil; where pydantic is
# missing (it is on the lent H200 image), carry its wheels as /work/.library/device/README.md
# describes (pydantic, pydantic-core, annotated-types, typing-inspection).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${OUT:-$root/gpu-results}}"
py="${PYTHON:-python3}"
mkdir -p "$out"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

"$py" - <<'PY' || exit 1
import importlib, sys
missing = [m for m in ("torch", "pydantic", "typer", "rich", "yaml", "numpy", "psutil")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_suite: missing Python packages: {', '.join(missing)}")
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_suite: torch sees no CUDA device")
print(f"gpu_suite: torch {torch.__version__}, {torch.cuda.device_count()} x "
      f"{torch.cuda.get_device_name(0)}")
PY

advisor() { "$py" -m advisor.cli.app "$@"; }
t0=$(date +%s)
gpus=$("$py" -c "import torch; print(torch.cuda.device_count())")
nproc=$(( gpus >= 2 ? gpus : 2 ))  # one GPU: collectives fall back to gloo, recorded as such

advisor bench --quick --device cuda --nproc "$nproc" --out "$out/bench.json" 2>&1 | tee "$out/bench.log"
bench_rc=${PIPESTATUS[0]}
t1=$(date +%s)
[ "$bench_rc" -eq 0 ] || echo "gpu_suite: bench exited $bench_rc; calibrating what finished"

advisor calibrate "$out/bench.json" --out "$out/profile.yaml" 2>&1 | tee "$out/calibrate.txt"
cal_rc=${PIPESTATUS[0]}
t2=$(date +%s)
val_rc=1
if [ "$cal_rc" -eq 0 ]; then
    advisor validate --profile "$out/profile.yaml" --quick --out "$out/validate.json" 2>&1 \
        | tee "$out/validate.txt"
    val_rc=${PIPESTATUS[0]}
fi
t3=$(date +%s)

{
    echo "bench: exit $bench_rc, $((t1 - t0)) s"
    echo "calibrate: exit $cal_rc, $((t2 - t1)) s"
    echo "validate: exit $val_rc, $((t3 - t2)) s"
    echo "total: $((t3 - t0)) s"
} | tee "$out/summary.txt"
[ "$bench_rc" -eq 0 ] && [ "$cal_rc" -eq 0 ] && [ "$val_rc" -eq 0 ]
