"""docs/cli.md documents every command, every `runs` action and every option; the README stays short
and points at the references in docs/."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli.parser import build_parser

REPO = Path(__file__).resolve().parents[2]


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, option) for every option of every command and sub-action."""
    for name, sub in _subcommands(parser):
        here = (*path, name)
        yield here, None
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    yield here, option
        yield from _walk(sub, here)


def _command_sections(text: str) -> dict[str, str]:
    """docs/cli.md's `## `command …`` sections, by command name: each command's own text."""
    sections = {}
    for chunk in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = re.match(r"`([\w-]+)", chunk)
        if heading:
            sections[heading.group(1)] = chunk
    return sections


def test_every_command_action_and_option_is_in_docs_cli():
    text = (REPO / "docs" / "cli.md").read_text()
    sections = _command_sections(text)
    missing = []
    for path, option in _walk(build_parser()):
        own = sections.get(path[0], "")  # an option counts only in its own command's section
        if option is None:
            if not re.search(rf"`{re.escape(' '.join(path))}[ `]", text) or not own:
                missing.append(" ".join(path))
        elif not re.search(rf"{re.escape(option)}(?![\w-])", own):
            missing.append(f"{' '.join(path)} {option}")
    assert missing == [], f"docs/cli.md does not document (in the command's own section): {missing}"


def test_the_walk_reaches_into_sub_actions():
    found = {(" ".join(path), option) for path, option in _walk(build_parser())}
    assert ("runs compare", "--carry-names") in found and ("runs import", "--pca-run") in found


def test_the_readme_is_short_and_points_at_the_references():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 10 * 1024, f"README is {len(readme.encode()):,} bytes; keep it under 10 KB"
    for reference in ("docs/cli.md", "docs/sagemaker.md", "docs/architecture.md", "docs/benchmarks.md"):
        assert reference in readme and (REPO / reference).is_file(), reference
    assert "./run test -m" in readme  # the fast inner loop


def test_the_census_help_names_every_preset():
    from workbench.cli.parser import build_parser
    from workbench.core import census_presets

    census = dict(_subcommands(build_parser()))["census"]
    preset_help = next(a.help for a in census._actions if "--preset" in a.option_strings)
    assert all(name in preset_help for name in census_presets.PRESETS)


def test_help_imports_no_numerical_library():
    """`--help` answers at once: building the parser imports no numpy, pandas, scipy or scikit-learn."""
    code = ("import sys, runpy; sys.argv = ['workbench', '--help']\n"
            "try: runpy.run_module('workbench', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "heavy = sorted(m for m in ('numpy', 'pandas', 'scipy', 'sklearn') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "usage:" in result.stdout and "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]



@pytest.mark.parametrize("artifact", ["pca-census-33", "kmeans-census-k8"])
def test_inspect_imports_no_scikit_learn_scipy_or_pandas(sagemaker_fixtures, artifact):
    """`inspect` on a real SageMaker artifact reads it with the format code alone (numpy decodes the
    NDArrays): no pandas, scipy or scikit-learn, so it answers in a fraction of a second."""
    path = sagemaker_fixtures / artifact / "model.tar.gz"
    code = ("import sys, runpy; sys.argv = ['workbench', 'inspect', sys.argv[1]]\n"
            "try: runpy.run_module('workbench', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "heavy = sorted(m for m in ('pandas', 'scipy', 'sklearn') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]
    summary = json.loads(result.stdout[: result.stdout.rindex("HEAVY")])
    assert summary
    assert summary["kind"] == artifact.split("-")[0]  # pca-census-33 is a PCA model, kmeans-census-k8 K-Means

def test_segment_imports_no_scikit_learn_scipy_or_numba(census_csv, tmp_path):
    """The county run computes with numpy and pandas alone: importing scikit-learn and scipy.stats
    took 0.5 s of a 1.3 s process before (issue 15); numba's import alone takes 0.16 s."""
    code = ("import sys, runpy; sys.argv = ['workbench', 'segment', '--data', sys.argv[1], '--workspace', sys.argv[2],"
            " '--json']\n"
            "try: runpy.run_module('workbench', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "print('HEAVY', sorted(m for m in ('scipy', 'sklearn', 'numba') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(census_csv), str(tmp_path)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]
    assert json.loads(result.stdout[: result.stdout.rindex("HEAVY")])["rows_clean"] == 3218
