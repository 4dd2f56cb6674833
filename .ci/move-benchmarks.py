"""One-off (issue 14, packaging): the Python benchmark suite became advisor.benchmarks.

Re-apply after merging a branch that still adds or edits top-level benchmarks/*.py,
from the repository root:

    git mv benchmarks/*.py advisor/benchmarks/      # only files still at the top level
    python3 .ci/move-benchmarks.py && ruff check --fix . && ruff format .

It rewrites imports, `-m benchmarks.X`, importlib names and path mentions in every
tracked or new *.py, *.sh and *.md file and .ci script (benchmarks/gpu_suite.sh keeps
its path and text). A second run changes nothing. Delete this file once every branch
is merged.
"""

import re
import subprocess
from pathlib import Path

SELF = Path(__file__).resolve()
LS = ["git", "ls-files", "-co", "--exclude-standard"]
files = subprocess.run(LS, capture_output=True, text=True, check=True).stdout.split()
RULES = [
    (r"(?<![\w.])from benchmarks(?=[. ])", "from advisor.benchmarks"),
    (r"(?<![\w.])import benchmarks\.(\w+) as ", r"import advisor.benchmarks.\1 as "),
    # `import benchmarks` / `import benchmarks.x` in code strings and modules
    (r"(?<![\w.])import benchmarks\b", "import advisor.benchmarks"),
    (r"(?<=, )benchmarks\.(results|launcher|train_step)\b", r"advisor.benchmarks.\1"),
    (r"(?<=, )benchmarks(?=, )", "advisor.benchmarks"),
    (r"(?<=[\"`])benchmarks\.(results|launcher|train_step|worker)\b", r"advisor.benchmarks.\1"),
    (r"(?<=\()benchmarks\.(?=\w)", "advisor.benchmarks."),
    (r"-m benchmarks\.", "-m advisor.benchmarks."),
    (r"\"-m\", \"benchmarks\.", '"-m", "advisor.benchmarks.'),
    (r"f\"benchmarks\.\{", 'f"advisor.benchmarks.{'),
    (r"\"benchmarks\.(\w+)\"", r'"advisor.benchmarks.\1"'),
    (r"(?<![\w./])benchmarks/(\w+)\.py", r"advisor/benchmarks/\1.py"),
]
for f in files:
    p = Path(f)
    if p.suffix not in (".py", ".sh", ".md") and not f.startswith(".ci/"):
        continue
    if not p.is_file() or p.resolve() == SELF or f == "benchmarks/gpu_suite.sh":
        continue
    s = p.read_text()
    t = s
    for pat, rep in RULES:
        t = re.sub(pat, rep, t)
    if t != s:
        p.write_text(t)
        print("rewrote", f)

# The folder a child process must have on PYTHONPATH is the one holding `advisor`,
# one level further up now that the suite lives inside it.
EXACT = {
    "advisor/benchmarks/launcher.py": [
        (
            "root = str(Path(__file__).resolve().parent.parent)\n",
            "root = str(Path(__file__).resolve().parent.parent.parent)  # holds `advisor`\n",
        ),
    ],
    "advisor/benchmarks/train_step.py": [
        (
            "root = str(Path(__file__).resolve().parent.parent)\n",
            "root = str(Path(__file__).resolve().parent.parent.parent)  # holds `advisor`\n",
        ),
        ("import `benchmarks` the way", "import `advisor.benchmarks` the way"),
    ],
    "tests/test_bench_harness.py": [
        (
            'Path(__file__).resolve().parent.parent / "benchmarks"',
            'Path(__file__).resolve().parent.parent / "advisor" / "benchmarks"',
        ),
    ],
}
for f, pairs in EXACT.items():
    p = Path(f)
    s = p.read_text()
    for old, new in pairs:
        s = s.replace(old, new)
    p.write_text(s)
