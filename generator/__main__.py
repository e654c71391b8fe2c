"""Command line: ``python -m generator generate|append``.

Errors are one line on stderr naming the setting at fault, with exit status 2, so scripts and
the Makefile fail loudly and people see what to fix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import NoReturn

from generator import incidents
from generator.lake import LakeError, append, generate


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _incident(text: str) -> incidents.Incident:
    try:
        return incidents.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_incident_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--incident",
        type=_incident,
        action="append",
        default=[],
        metavar="NAME@YYYY-MM-DD",
        help=f"inject a named incident on that ingest date (repeatable; one of "
        f"{', '.join(incidents.NAMES)}; see docs/sample_lake.md)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m generator", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="write a fresh lake of --days days")
    gen.add_argument("--seed", type=_int, required=True, help="any whole number >= 0")
    gen.add_argument("--customers", type=_int, required=True, help="customers by the plan's end")
    gen.add_argument("--start-date", type=_date, required=True, help="first ingest date")
    gen.add_argument("--days", type=_int, required=True, help="ingest days to write")
    gen.add_argument("--out", type=Path, required=True, help="lake folder (empty or new)")
    gen.add_argument(
        "--plan-days",
        type=_int,
        default=None,
        help="length of the planned history (default --days): sets the drift day "
        "(plan_days // 2) and the sign-up pace; give the final length when appending later",
    )
    gen.add_argument("--overwrite", action="store_true", help="replace an existing lake")
    gen.add_argument(
        "--no-support",
        dest="support",
        action="store_false",
        help="leave out the support system's helpdesk feed (support/tickets); `append` then "
        "continues the lake without it",
    )
    _add_incident_option(gen)

    app = commands.add_parser("append", help="write the next --days days of an existing lake")
    app.add_argument("--out", type=Path, required=True, help="an existing lake folder")
    app.add_argument("--days", type=_int, default=1, help="days to add (default 1)")
    _add_incident_option(app)
    return parser


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            generate(
                args.out,
                seed=args.seed,
                customers=args.customers,
                start_date=args.start_date,
                days=args.days,
                plan_days=args.plan_days,
                overwrite=args.overwrite,
                progress=_progress,
                incidents=args.incident,
                support=args.support,
            )
        else:
            append(args.out, days=args.days, progress=_progress, incidents=args.incident)
    except LakeError as error:
        print(f"python -m generator {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
