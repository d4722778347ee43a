"""``product-rules``: check, test, compare, explain and publish rule sets.

Every finding prints as ``file:line:column: message`` (with "did you mean …?" where a
close name exists), so editors and CI jump straight to it.

Exit codes: 0 fine, 1 problems found (or tests failed, or a publish refused), 2 usage.

``--language de`` (``check``, ``test``, ``publish``, ``vocabulary``) writes the findings
and labels in German: positions, rule ids, attribute names and values stay as written.
English is the default whatever the locale of the shell, like our other command lines,
so CI logs and scripts read the same everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from product_rules.errors import ProductRulesError, RuleProblem, RuleSetError
from product_rules.i18n import gettext, localized
from product_rules.loader import LoadedRuleSet, discover_rulesets, load_all, load_ruleset
from product_rules.localize import DEFAULT_LANGUAGE, LANGUAGES
from product_rules.registry import DEFAULT_RULES_DIR
from product_rules.text import speaking

__all__ = ["main"]


def _db(args: argparse.Namespace) -> Engine:
    from advisor.settings import get_settings  # the entry point reads our one settings object
    from catalog.db import make_engine

    return make_engine(args.database_url or get_settings().database_url)


def _catalog_problems(loaded: LoadedRuleSet, db: Engine) -> list[RuleProblem]:
    from product_rules.checks import check_ruleset

    return check_ruleset(loaded, db)


def _rules_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such folder")
    return path


def _load_dir(directory: Path) -> tuple[dict[str, LoadedRuleSet], list[RuleProblem]]:
    """A folder of rule sets, or a single rule set folder (has ruleset.yml)."""
    if (directory / "ruleset.yml").exists():
        try:
            item = load_ruleset(directory, root=directory.parent.parent)
        except RuleSetError as exc:
            return {}, exc.problems
        return {item.ruleset.id: item}, []
    return load_all(directory)


def _check(args: argparse.Namespace) -> int:
    loaded, problems = _load_dir(args.directory)
    for item in loaded.values():
        problems.extend(item.missing)  # every text in every language the shops speak
    if not args.no_catalog:
        try:
            db = _db(args)
            for item in loaded.values():
                problems.extend(_catalog_problems(item, db))
        except SQLAlchemyError as exc:
            message = gettext("catalogue not reachable, catalogue checks skipped: {error}")
            print(message.format(error=exc), file=sys.stderr)
            return 1
    for problem in sorted(problems, key=lambda p: (p.file, p.line, p.column)):
        print(problem)
    for ruleset_id, item in sorted(loaded.items()):
        rs = item.ruleset
        print(
            gettext(
                "checked {ruleset}: {questions} questions, {filters} filters, "
                "{requirements} requirements, {cross_sell} cross-sell rules"
            ).format(
                ruleset=ruleset_id,
                questions=len(rs.questions),
                filters=len(rs.filters),
                requirements=len(rs.requirements),
                cross_sell=len(rs.cross_sell),
            ),
            file=sys.stderr,
        )
    done = gettext("{count} problem(s)").format(count=len(problems))
    print(done if problems else gettext("ok"), file=sys.stderr)
    return 1 if problems else 0


def _test(args: argparse.Namespace) -> int:
    from product_rules.engine import AdviceEngine
    from product_rules.personas import format_results, load_personas, run_personas

    loaded, problems = _load_dir(args.directory)
    for problem in problems:
        print(problem)
    db = _db(args)
    results = []
    for item in loaded.values():
        try:
            personas = load_personas(
                item.directory, root=args.directory.parent, ruleset=item.ruleset
            )
        except RuleSetError as exc:
            problems.extend(exc.problems)
            for problem in exc.problems:
                print(problem)
            continue
        results.extend(run_personas(item, AdviceEngine(item.ruleset, db), personas))
    print(format_results(results))
    failed = problems or any(not r.passed for r in results)
    return 1 if failed else 0


def _diff(args: argparse.Namespace) -> int:
    from product_rules.diff import diff_rulesets, format_report, sample_answers
    from product_rules.engine import AdviceEngine

    old, old_problems = _load_dir(args.old)
    new, new_problems = _load_dir(args.new)
    for problem in old_problems + new_problems:
        print(problem)
    if new_problems:
        return 1
    db = _db(args)
    for ruleset_id in sorted(set(old) | set(new)):
        if ruleset_id not in old or ruleset_id not in new:
            print(f"{ruleset_id}: only in {'NEW' if ruleset_id in new else 'OLD'}")
            continue
        samples = sample_answers(new[ruleset_id].ruleset, limit=args.samples)
        report = diff_rulesets(
            AdviceEngine(old[ruleset_id].ruleset, db),
            AdviceEngine(new[ruleset_id].ruleset, db),
            samples,
        )
        print(f"== {ruleset_id}")
        print(format_report(report))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from product_rules.engine import AdviceEngine

    try:
        answers = json.loads(args.answers)
    except json.JSONDecodeError as exc:
        print(f"--answers is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(answers, dict):
        print("--answers must be a JSON object such as '{\"budget\": 1500}'", file=sys.stderr)
        return 2
    loaded, problems = _load_dir(args.directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.ruleset not in loaded:
        print(
            f"unknown rule set {args.ruleset!r}; loaded: {', '.join(sorted(loaded))}",
            file=sys.stderr,
        )
        return 1
    result = AdviceEngine(loaded[args.ruleset].ruleset, _db(args)).recommend(answers)
    output: dict[str, Any] = {**result.payload(), "relaxed": result.relaxed, "trace": result.trace}
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from product_rules.publishing import publish

    db = _db(args)
    folders = (
        [args.directory]
        if (args.directory / "ruleset.yml").exists()
        else discover_rulesets(args.directory)
    )
    code = 0
    for folder in folders:
        try:
            result = publish(
                db,
                folder,
                author=args.author,
                message=args.message,
                extra_checks=lambda item: _catalog_problems(item, db),
            )
        except RuleSetError as exc:
            print(
                gettext("refused {folder}; the version in service stays:").format(
                    folder=folder.name
                )
            )
            for problem in exc.problems:
                print(problem)
            code = 1
            continue
        state = gettext("new version") if result.created else gettext("unchanged, republished")
        done = gettext("published {ruleset} v{version} ({state})").format(
            ruleset=result.ruleset_id, version=result.version, state=state
        )
        # The changes are stored with the version, as they were written then (English).
        print(f"{done}\n  {result.changes.replace(chr(10), chr(10) + '  ')}")
    return code


def _versions(args: argparse.Namespace) -> int:
    from product_rules.publishing import history

    entries = history(_db(args), args.ruleset)
    if not entries:
        print("nothing published yet")
    for entry in entries:
        print(
            f"{entry['at']}  {entry['ruleset']} v{entry['version']}  {entry['action']:<8} "
            f"by {entry['author']}  {entry['note']}"
        )
        for line in entry["changes"].splitlines():
            print(f"    {line}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from product_rules.publishing import rollback

    version = rollback(_db(args), args.ruleset, args.version, author=args.author, note=args.message)
    print(f"{args.ruleset} v{version} is in service again")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from product_rules.schema import RuleSet

    print(json.dumps(RuleSet.model_json_schema(by_alias=True), indent=2))
    return 0


def _vocabulary(args: argparse.Namespace) -> int:
    from product_rules.vocabulary import export

    vocabulary = export()
    if args.json:
        print(json.dumps(vocabulary, indent=2, ensure_ascii=False))
        return 0
    language = args.language or DEFAULT_LANGUAGE
    for attribute in vocabulary["attributes"]:
        unit = f" [{attribute['unit']}]" if attribute["unit"] else ""
        values = f": {', '.join(attribute['values'])}" if attribute["values"] else ""
        # The label only when asked for a language: the English listing stays as it was.
        label = f"  ({attribute['labels'][language]})" if args.language else ""
        print(f"{attribute['name']:<22} {attribute['kind']}{unit}{values}{label}")
    print()
    for op in vocabulary["operators"]:
        note = "" if op["in_rules"] else "  (relaxation only)"
        print(f"{op['name']:<8} {op['symbol']:<8} {op['sql']}{note}")
    print()
    for kind in vocabulary["answer_types"]:
        print(f"{kind['name']:<8} {kind['labels'][language]}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="product-rules", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="catalogue database (default: DATABASE_URL or var/catalog.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rules = str(DEFAULT_RULES_DIR)
    # The language findings and labels are written in (a merchandiser's, not the shell's).
    speaks = argparse.ArgumentParser(add_help=False)
    speaks.add_argument(
        "--language",
        choices=LANGUAGES,
        default=None,
        help="write findings and labels in this language (default: en)",
    )

    check = commands.add_parser(
        "check", help="check rule sets against schema and catalogue", parents=[speaks]
    )
    check.add_argument("directory", nargs="?", type=_rules_dir, default=rules)
    check.add_argument("--no-catalog", action="store_true", help="skip catalogue checks")
    check.set_defaults(run=_check)

    test = commands.add_parser(
        "test", help="run the persona tests beside the rules", parents=[speaks]
    )
    test.add_argument("directory", nargs="?", type=_rules_dir, default=rules)
    test.set_defaults(run=_test)

    diff = commands.add_parser("diff", help="how offers change between two rule folders")
    diff.add_argument("old", type=_rules_dir)
    diff.add_argument("new", type=_rules_dir)
    diff.add_argument("--samples", type=int, default=200)
    diff.set_defaults(run=_diff)

    explain = commands.add_parser("explain", help="offers for answers, with the full trace")
    explain.add_argument("--answers", required=True, help="answers as a JSON object")
    explain.add_argument("--ruleset", default="road_bike")
    explain.add_argument("--directory", type=_rules_dir, default=rules)
    explain.set_defaults(run=_explain)

    publish = commands.add_parser(
        "publish", help="check and put a rule set in service", parents=[speaks]
    )
    publish.add_argument("directory", type=_rules_dir)
    publish.add_argument("--author", required=True)
    publish.add_argument("-m", "--message", default="")
    publish.set_defaults(run=_publish)

    versions = commands.add_parser("versions", help="the publication log")
    versions.add_argument("ruleset", nargs="?")
    versions.set_defaults(run=_versions)

    rollback = commands.add_parser("rollback", help="put an earlier version back in service")
    rollback.add_argument("ruleset")
    rollback.add_argument("version", type=int)
    rollback.add_argument("--author", required=True)
    rollback.add_argument("-m", "--message", default="")
    rollback.set_defaults(run=_rollback)

    schema = commands.add_parser("schema", help="print the rule language as JSON Schema")
    schema.set_defaults(run=_schema)

    vocabulary = commands.add_parser(
        "vocabulary",
        help="the attributes, operators and answer types rules may use",
        parents=[speaks],
    )
    vocabulary.add_argument("--json", action="store_true", help="print it as JSON")
    vocabulary.set_defaults(run=_vocabulary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``product-rules`` console script."""
    args = _parser().parse_args(argv)
    with speaking(getattr(args, "language", None) or DEFAULT_LANGUAGE):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.run(args)
    except ProductRulesError as exc:
        # A lazy message says itself in the current language; str(exc) would be English.
        said = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
        print(gettext("error: {error}").format(error=localized(said)), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            gettext("error: the catalogue database is not reachable: {kind}: {error}").format(
                kind=exc.__class__.__name__, error=str(exc).splitlines()[0]
            ),
            file=sys.stderr,
        )
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
