"""docs/cli.md documents every command, every `runs` action and every option; the README stays short
and points at the references in docs/."""
from __future__ import annotations

import argparse
import re
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
