"""Load a rule set folder into a checked :class:`~product_rules.schema.RuleSet`.

YAML is composed into nodes first so every value keeps its file, line and column; schema
errors from pydantic and semantic errors from :mod:`product_rules.validate` are both
reported at the position of the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from product_rules.errors import RuleProblem, RuleSetError, did_you_mean, relative
from product_rules.i18n import Message
from product_rules.i18n import lazy_gettext as _
from product_rules.localize import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    localize,
    missing_translations,
    translation_problems,
)
from product_rules.schema import RuleSet

__all__ = [
    "LoadedRuleSet",
    "SourceMap",
    "discover_rulesets",
    "load_all",
    "load_ruleset",
    "schema_message",
]

Path_ = tuple[str | int, ...]


class _RulesLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only ``true``/``false``.

    YAML 1.1 reads ``no``, ``yes``, ``on`` and ``off`` as booleans, which silently turns the
    synonym "no" into ``False``; merchandisers write words, so words stay strings.
    """


_RulesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RulesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(slots=True)
class SourceMap:
    """Positions of every value of a rule set, keyed by its path in the merged document."""

    root: Path | None = None
    positions: dict[Path_, tuple[Path, int, int]] = field(default_factory=dict)
    default_file: Path | None = None

    def locate(self, path: Path_) -> tuple[str, int, int]:
        """Return ``(file, line, column)`` of the value at ``path`` or its nearest parent."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                file, line, column = self.positions[probe]
                return relative(file, self.root), line, column
            probe = probe[:-1]
        file_ = self.default_file or Path("<rules>")
        return relative(file_, self.root), 1, 1

    def problem(self, path: Path_, message: str, suggestion: str | None = None) -> RuleProblem:
        """Build a :class:`RuleProblem` located at ``path``."""
        file, line, column = self.locate(path)
        return RuleProblem(file, line, column, message, suggestion)


@dataclass(frozen=True, slots=True)
class LoadedRuleSet:
    """A checked rule set with where it came from.

    Attributes:
        ruleset: The rule set in English (the default language).
        views: The rule set per language (see :mod:`product_rules.localize`).
        missing: One problem per text without a translation into one of the languages.
    """

    ruleset: RuleSet
    directory: Path
    sources: SourceMap
    fingerprint: str
    views: dict[str, RuleSet] = field(default_factory=dict)
    missing: tuple[RuleProblem, ...] = ()

    def localized(self, language: str) -> LoadedRuleSet:
        """The same rule set with the texts of ``language`` (English where one is missing)."""
        ruleset = self.views.get(language.split("-")[0].lower())
        if ruleset is None or ruleset is self.ruleset:
            return self
        return replace(self, ruleset=ruleset, views={language: ruleset})


def _walk(node: yaml.Node, path: Path_, file: Path, out: dict[Path_, tuple[Path, int, int]]) -> Any:
    out[path] = (file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            result[key] = _walk(value_node, (*path, key), file, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), file, out) for i, item in enumerate(node.value)]
    # Scalars: let the safe constructor resolve ints, floats, bools and nulls.
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _read_file(
    file: Path, sources: SourceMap, merged: dict[str, Any], problems: list[RuleProblem]
) -> None:
    shown = relative(file, sources.root)
    try:
        text = file.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_RulesLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        # PyYAML's own explanation ("could not find expected ':'") is English only.
        message = _("invalid YAML: {error}").format(error=exc.problem)
        problems.append(RuleProblem(shown, line, column, message))
        return
    except (OSError, UnicodeDecodeError) as exc:
        message = _("cannot read file: {error}").format(error=exc)
        problems.append(RuleProblem(shown, 1, 1, message))
        return
    if node is None:
        return
    if not isinstance(node, yaml.MappingNode):
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        problems.append(
            RuleProblem(shown, line, column, _("a rule file must be a mapping of sections"))
        )
        return
    positions: dict[Path_, tuple[Path, int, int]] = {}
    document = _walk(node, (), file, positions)
    for key, value in document.items():
        if key in merged:
            first = sources.locate((key,))
            line, column = positions[(key,)][1:]
            problems.append(
                RuleProblem(
                    shown,
                    line,
                    column,
                    _("section {section!r} is already defined in {file}:{line}").format(
                        section=key, file=first[0], line=first[1]
                    ),
                )
            )
            continue
        merged[key] = value
        for path, position in positions.items():
            if path and path[0] == key:
                sources.positions[path] = position


def _schema_problems(exc: ValidationError, sources: SourceMap) -> Iterator[RuleProblem]:
    for error in exc.errors():
        location = tuple(error["loc"])
        message: str = error["msg"]
        suggestion = None
        if error["type"] == "extra_forbidden":
            name = str(location[-1])
            parent = location[:-1]
            allowed = _allowed_fields(parent)
            suggestion = did_you_mean(name, allowed)
            message = _("unknown key {key!r}").format(key=name)
        elif error["type"] == "missing":
            message = _("missing required key {key!r}").format(key=str(location[-1]))
            location = location[:-1]
        else:
            message = schema_message(error)
            name = next((str(p) for p in reversed(location) if isinstance(p, str)), "")
            if name:
                message = _("{key}: {message}").format(key=name, message=message)
        yield sources.problem(location, message, suggestion)


#: pydantic's messages of the errors a merchandiser makes most, by error type, in our
#: words (pydantic's own are English only); the others are quoted as pydantic writes them.
_SCHEMA_MESSAGES = {
    "bool_parsing": _("Input should be a valid boolean, unable to interpret input"),
    "bool_type": _("Input should be a valid boolean"),
    "dict_type": _("Input should be a valid dictionary"),
    "float_parsing": _("Input should be a valid number, unable to parse string as a number"),
    "float_type": _("Input should be a valid number"),
    "int_parsing": _("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": _("Input should be a valid integer, got a number with a fractional part"),
    "int_type": _("Input should be a valid integer"),
    "list_type": _("Input should be a valid list"),
    "string_type": _("Input should be a valid string"),
    "literal_error": _("Input should be {expected}"),
    "enum": _("Input should be {expected}"),
    "greater_than_equal": _("Input should be greater than or equal to {ge}"),
    "less_than_equal": _("Input should be less than or equal to {le}"),
    "string_pattern_mismatch": _("String should match pattern '{pattern}'"),
}


def schema_message(error: Any) -> str:
    """A pydantic error (one of ``ValidationError.errors()``) in words we can translate.

    Our validators' own messages, and pydantic's most common ones word for word;
    any other is pydantic's English.
    """
    context = error.get("ctx") or {}
    raised = context.get("error")
    if error["type"] == "value_error" and isinstance(raised, ValueError):
        made = raised.args[0] if raised.args else ""
        if isinstance(made, Message):
            return made  # our own validators' words (schema.py)
    written = str(error["msg"]).removeprefix("Value error, ")
    known = _SCHEMA_MESSAGES.get(error["type"])
    if known is not None:
        try:
            ours = known.format(**{k: v for k, v in context.items() if k != "error"})
        except (KeyError, IndexError):
            return written
        if ours == written:  # only where our English is pydantic's, word for word
            return ours
    return written


def _allowed_fields(parent: Path_) -> list[str]:
    """Field names valid at ``parent``, for 'did you mean' on unknown keys."""
    from pydantic import BaseModel

    model: type[BaseModel] = RuleSet
    for part in parent:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return []
        annotation = info.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        nested = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def load_ruleset(directory: Path, *, root: Path | None = None) -> LoadedRuleSet:
    """Load and check the rule set in ``directory``.

    Raises:
        RuleSetError: with every problem found, each with file, line and column.
    """
    from product_rules.validate import fingerprint, validate

    files = sorted(p for p in directory.iterdir() if p.suffix in {".yml", ".yaml"})
    sources = SourceMap(root=root, default_file=files[0] if files else directory)
    problems: list[RuleProblem] = []
    merged: dict[str, Any] = {}
    for file in files:
        if file.name.startswith(("personas", "_")):
            continue  # persona tests and drafts are not part of the rule set
        _read_file(file, sources, merged, problems)
    problems.extend(translation_problems(merged, sources.problem))
    if problems:
        raise RuleSetError(problems)
    views: dict[str, RuleSet] = {}
    for language in LANGUAGES:
        try:
            view = RuleSet.model_validate(localize(merged, language))
        except ValidationError as exc:
            raise RuleSetError(list(_schema_problems(exc, sources))) from None
        # A German text can break where the English one does not (a Jinja2 typo).
        seen = {str(p) for p in problems}
        problems.extend(p for p in validate(view, sources) if str(p) not in seen)
        views[language] = view
    if problems:
        raise RuleSetError(problems)
    missing = tuple(missing_translations(merged, sources.problem))
    return LoadedRuleSet(
        views[DEFAULT_LANGUAGE], directory, sources, fingerprint(files), views, missing
    )


def discover_rulesets(rules_dir: Path) -> list[Path]:
    """Rule set folders under ``rules_dir``: every sub-folder holding a ``ruleset.yml``."""
    return sorted(p.parent for p in rules_dir.glob("*/ruleset.yml"))


def load_all(rules_dir: Path) -> tuple[dict[str, LoadedRuleSet], list[RuleProblem]]:
    """Load every rule set under ``rules_dir``; broken ones are reported, not raised."""
    loaded: dict[str, LoadedRuleSet] = {}
    problems: list[RuleProblem] = []
    root = rules_dir.parent
    for directory in discover_rulesets(rules_dir):
        try:
            item = load_ruleset(directory, root=root)
        except RuleSetError as exc:
            problems.extend(exc.problems)
            continue
        if item.ruleset.id in loaded:
            problems.append(
                item.sources.problem(
                    ("id",), _("duplicate rule set id {id!r}").format(id=item.ruleset.id)
                )
            )
            continue
        loaded[item.ruleset.id] = item
    return loaded, problems
