"""docs/cli.md documents every command, every `runs` action and every option; the README stays short
and points at the references in docs/."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

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


def test_every_command_action_and_option_is_in_docs_cli():
    text = (REPO / "docs" / "cli.md").read_text()
    missing = []
    for path, option in _walk(build_parser()):
        if option is None:
            if not re.search(rf"`{re.escape(' '.join(path))}[ `]", text):
                missing.append(" ".join(path))
        elif option not in text:
            missing.append(f"{' '.join(path)} {option}")
    assert missing == [], f"docs/cli.md does not document: {missing}"


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
