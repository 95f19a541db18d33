"""`python -m workbench`: the headless CLI over the same library the app uses.

One function per command (workbench/cli/*_commands.py), the arguments in
workbench/cli/parser.py, and docs/cli.md documenting every command and option.
"""
from __future__ import annotations

import os
import sys

from workbench.cli import census_commands, cloud_commands, pipeline_commands, runs_commands
from workbench.cli.parser import build_parser

COMMANDS = {
    "segment": pipeline_commands.segment,
    "stream": pipeline_commands.stream,
    "inspect": cloud_commands.inspect,
    "endpoints": cloud_commands.endpoints,
    "runs": lambda args: runs_commands.ACTIONS[args.runs_command](args),
    "census": census_commands.run,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        # Our errors carry a message meant for the user; a traceback would bury it.
        print(f"error: {exc}", file=sys.stderr)
        return 2
