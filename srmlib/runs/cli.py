"""The command line: ``python -m srmlib.runs {params,run,sweep} ...`` (also ``srmlib-run``).

Exit codes: 0 when everything asked for succeeded; 1 when a run failed or a sweep did not
finish every run; 2 for bad input (unknown parameters, values out of range, a malformed grid,
wrong arguments), reported in one line; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .parameters import load_chapter, load_yaml, read_yaml_file
from .recording import text_table
from .run import NOTEBOOK_FILE, run_chapter
from .sweeps import sweep

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m srmlib.runs {params,run,sweep} ...`` (see ``--help``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ValueError, TypeError) as err:
        print(f"srmlib.runs: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("srmlib.runs: interrupted; finished runs are kept, rerun to finish the rest",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        # Python's documented recipe: point stdout at devnull so the exit-time flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser():
    parser = _Parser(prog="python -m srmlib.runs",
                     description="Run the book's chapters as parameterized experiments.")
    commands = parser.add_subparsers(required=True, metavar="{params,run,sweep}")
    params = commands.add_parser("params", help="list a chapter's parameters")
    params.add_argument("chapter", help="a path, or a short name like 01")
    params.set_defaults(command=_cli_params)
    run = commands.add_parser("run", help="run a chapter once with parameters")
    run.add_argument("chapter", help="a path, or a short name like 01")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="a parameter (YAML value); repeatable")
    run.add_argument("--params", metavar="FILE", help="a YAML file of parameters (-p wins)")
    run.add_argument("--out", metavar="DIR", help="default _build/runs/<chapter>")
    run.set_defaults(command=_cli_run)
    sweep_ = commands.add_parser("sweep", help="run a chapter over a grid of parameters")
    sweep_.add_argument("chapter", help="a path, or a short name like 01")
    sweep_.add_argument("grid", help="a YAML file with grid, fixed and figure")
    sweep_.add_argument("--jobs", type=int, metavar="N", help="local worker processes")
    sweep_.add_argument("--scheduler", metavar="ADDR", help="a Dask scheduler, tcp://host:port")
    sweep_.add_argument("--out", metavar="DIR", help="default _build/runs/<chapter>")
    sweep_.set_defaults(command=_cli_sweep)
    return parser


def _cli_params(args) -> int:
    chapter = load_chapter(args.chapter)
    print(f"{chapter.name}: {len(chapter.parameters)} parameters")
    for p in chapter.parameters.values():
        print(f"  {p.name}: {p.type or 'any'} = {p.default!r}  {p.range_text()}".rstrip())
        print(f"      {p.help}")
    return 0


def _cli_run(args) -> int:
    chapter = load_chapter(args.chapter)
    values = {}
    if args.params:
        values = read_yaml_file(args.params, "parameters file") or {}
        if not isinstance(values, dict):
            raise ValueError(f"parameters file {args.params} must be a mapping of name: value")
    for name, text in args.parameter:
        param = chapter.parameters.get(name)
        values[name] = text if param is not None and param.type == "str" else _yaml_value(text)
    result = run_chapter(chapter, values, out=args.out)
    if not result.ok:
        print(f"failed: {result.error}\n  partial notebook: {result.folder / NOTEBOOK_FILE}",
              file=sys.stderr)
        return 1
    print(f"ok in {result.seconds:.1f} s: {result.folder}")
    if result.results:
        print(text_table(result.results))
    return 0


def _yaml_value(text: str):
    """A ``-p`` value read as YAML (1.2 core plain scalars, see
    :mod:`srmlib.runs.parameters`); text that is not valid YAML is the string itself."""
    try:
        return load_yaml(text)
    except ValueError:
        return text


def _cli_sweep(args) -> int:
    result = sweep(args.chapter, args.grid, out=args.out, jobs=args.jobs, scheduler=args.scheduler)
    print(result)
    print(f"\n{result.count('ok')} ok, {result.count('failed')} failed, "
          f"{result.count('missing')} missing; table {result.csv_path}"
          + (f", figure {result.figure_path}" if result.figure_path else ""))
    for row in result.rows:
        if row["status"] == "failed":
            print(f"  {row['run']} failed: {row['error']}", file=sys.stderr)
    if not result.complete:
        print("the sweep was interrupted: run the same command again to finish it", file=sys.stderr)
    return 0 if result.count("ok") == len(result.rows) else 1
