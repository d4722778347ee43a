"""``product-rules``: check rule sets and explain recommendations from the command line.

Exit codes: 0 fine, 1 problems found (printed as ``file:line:column: message``), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from product_rules.loader import load_all
from product_rules.registry import DEFAULT_RULES_DIR

__all__ = ["main"]


def _check(args: argparse.Namespace) -> int:
    rules_dir = Path(args.directory)
    if not rules_dir.is_dir():
        print(f"{rules_dir}: no such folder", file=sys.stderr)
        return 2
    loaded, problems = load_all(rules_dir)
    for problem in problems:
        print(problem)
    for ruleset_id, item in sorted(loaded.items()):
        rs = item.ruleset
        print(
            f"ok: {ruleset_id} ({len(rs.questions)} questions, {len(rs.filters)} filters, "
            f"{len(rs.requirements)} requirements, {len(rs.cross_sell)} cross-sell rules)",
            file=sys.stderr,
        )
    return 1 if problems else 0


def _explain(args: argparse.Namespace) -> int:
    from catalog.db import make_engine
    from product_rules.engine import AdviceEngine

    try:
        answers = json.loads(args.answers)
    except json.JSONDecodeError as exc:
        print(f"--answers is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(answers, dict):
        print("--answers must be a JSON object such as '{\"budget\": 1500}'", file=sys.stderr)
        return 2
    loaded, problems = load_all(Path(args.directory))
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.ruleset not in loaded:
        print(
            f"unknown rule set {args.ruleset!r}; loaded: {', '.join(sorted(loaded))}",
            file=sys.stderr,
        )
        return 1
    engine = AdviceEngine(loaded[args.ruleset].ruleset, make_engine(args.database_url))
    result = engine.recommend(answers)
    output = {**result.payload(), "relaxed": result.relaxed, "trace": result.trace}
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``product-rules`` console script."""
    parser = argparse.ArgumentParser(prog="product-rules", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check rule sets; exits 1 with file:line:col")
    check.add_argument("directory", nargs="?", default=str(DEFAULT_RULES_DIR))
    check.set_defaults(run=_check)
    explain = commands.add_parser("explain", help="offers for answers, with the full trace")
    explain.add_argument("--answers", required=True, help="answers as a JSON object")
    explain.add_argument("--ruleset", default="road_bike")
    explain.add_argument("--directory", default=str(DEFAULT_RULES_DIR))
    explain.add_argument("--database-url", default=None)
    explain.set_defaults(run=_explain)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
