"""The benchmarks' counts (repeats, reruns, rounds) are refused below 1, never replaced."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks import __main__ as benchmarks_main
from benchmarks import bench_app, bench_browser, harness


@pytest.mark.parametrize("main, option", [
    (benchmarks_main.main, "--repeat"), (benchmarks_main.main, "--app-reruns"),
    (bench_app.main, "--reruns"), (bench_browser.main, "--repeats"),
])
@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_count_below_one_or_not_a_number_is_refused_at_the_option(main, option, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([option, value])
    assert exit_.value.code == 2 and option in capsys.readouterr().err


def test_bench_rounds_below_one_is_refused():
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_processes"], cwd=harness.REPO,
                          env={**os.environ, "BENCH_ROUNDS": "0"}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "BENCH_ROUNDS" in done.stderr and "Traceback" not in done.stderr
