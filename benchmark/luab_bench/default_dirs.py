"""Default folders of the CLI and the run specs (one definition each; light: only ``pathlib``, so
``luab-bench --help`` stays instant). Relative paths resolve against the working directory."""

from __future__ import annotations

from pathlib import Path

#: Where datasets are generated / cached (``--data-dir``; env ``LUAB_BENCH_DATA``).
DEFAULT_DATA_DIR = Path("~/.cache/luab-bench/data")
#: Where checkpoints are written (``--runs-dir``).
DEFAULT_RUNS_DIR = Path("runs")
#: Where signed result JSON files are written (``--results-dir``).
DEFAULT_RESULTS_DIR = Path("leaderboard/results")
#: Where the static leaderboard is built (``--site-dir``).
DEFAULT_SITE_DIR = Path("leaderboard/site")
