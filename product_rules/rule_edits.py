"""Everyday edits of rule files, made on the YAML text so the files stay readable.

The workbench's form changes a question's text, an option's label or synonyms, the
order of the questions, a question's ``ask_if``, a filter's importance or a ranking
weight. Each edit reads the files with ruamel.yaml's round-trip loader and writes back
only what changed: comments, key order, flow lists (``[a, b]``) and quoting stay as
the merchandiser wrote them (the shipped files read back byte for byte).

Errors: :class:`EditError` (a :class:`~product_rules.errors.ProductRulesError`) names
what could not be found, with "did you mean".
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from product_rules.errors import ProductRulesError, did_you_mean
from product_rules.i18n import lazy_gettext as _
from product_rules.i18n import localized
from product_rules.localize import DEFAULT_LANGUAGE, LANGUAGES
from product_rules.schema import CrossSellRule

__all__ = [
    "EDIT_KINDS",
    "PREFER",
    "RULE_FIELDS",
    "EditError",
    "Edit",
    "apply_edits",
    "outline",
]

#: The edits the form makes, with the fields each needs.
EDIT_KINDS = {
    "question_text": ("question", "value"),
    "option_label": ("question", "option", "value"),
    "option_synonyms": ("question", "option", "value"),
    "add_synonym": ("question", "option", "value"),
    "ask_if": ("question", "value"),
    "move_question": ("question", "value"),
    "ranking_weight": ("key", "value"),
    "filter_importance": ("index", "value"),
    "filter_value": ("index", "value"),
    "cross_sell": ("index", "key", "value"),
    "requirement": ("index", "key", "value"),
}

#: The fields of a cross-sell rule and of a requirement the form edits, and how each is read.
RULE_FIELDS: dict[str, dict[str, str]] = {
    "cross_sell": {"when": "condition", "reason": "text", "limit": "number", "prefer": "choice"},
    "requirements": {"label": "text", "prefer": "choice"},
}
#: How a requirement or a cross-sell rule picks among the products that fit.
PREFER = tuple(get_args(CrossSellRule.model_fields["prefer"].annotation))


class EditError(ProductRulesError):
    """An edit that names something the files do not hold, or files that are not YAML.

    ``str(exc)`` is English; :meth:`message_in` says it in the editor's language.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def message_in(self, language: str | None = None) -> str:
        """The message in ``language`` (the current language when None)."""
        return localized(self.message, language)


def _hinted(message: str, hint: str | None) -> str:
    """``message``, with ", did you mean …?" when a close name exists."""
    if hint is None:
        return message
    return _("{message}, did you mean {suggestion!r}?").format(message=message, suggestion=hint)


@dataclass(frozen=True, slots=True)
class Edit:
    """One change the form asks for; ``value`` is text (synonyms: comma-separated)."""

    kind: str
    value: str
    question: str = ""
    option: str = ""
    key: str = ""
    index: int = -1
    #: Which language's text or words the edit changes; the other languages' stay.
    language: str = "en"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long flow list or text
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


class _Documents:
    """The files loaded once, dumped back only where something changed."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)
        self.yaml = _yaml()
        self.docs: dict[str, Any] = {}
        self.changed: set[str] = set()

    def doc(self, name: str) -> Any:
        if name not in self.docs:
            try:
                self.docs[name] = self.yaml.load(self.files[name])
            except YAMLError as exc:
                raise EditError(
                    _("{file} is not valid YAML; fix it in the source first: {error}").format(
                        file=name, error=exc
                    )
                ) from None
        return self.docs[name]

    def section(self, key: str) -> tuple[str, Any]:
        """The file holding the top-level ``key`` and that section."""
        for name in sorted(self.files):
            if name.startswith("personas") or key not in self.files[name]:
                continue
            doc = self.doc(name)
            if isinstance(doc, CommentedMap) and key in doc:
                return name, doc[key]
        raise EditError(_("no rule file has a {section!r} section").format(section=key))

    def result(self) -> dict[str, str]:
        for name in self.changed:
            out = io.StringIO()
            self.yaml.dump(self.docs[name], out)
            self.files[name] = out.getvalue()
        return self.files


def _by_id(items: Any, ident: str, unknown: str) -> CommentedMap:
    """The item ``ident`` of ``items``; ``unknown`` says so when there is none ({id})."""
    known = [str(item.get("id")) for item in items or [] if isinstance(item, CommentedMap)]
    for item in items or []:
        if isinstance(item, CommentedMap) and str(item.get("id")) == ident:
            return item
    raise EditError(_hinted(unknown.format(id=ident), did_you_mean(ident, known)))


def _synonyms(value: str) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))


def _translations(value: Any) -> CommentedMap | None:
    """The ``{en: …, de: …}`` mapping of a translatable field, if it is written so."""
    if isinstance(value, CommentedMap) and value and all(k in LANGUAGES for k in value):
        return value
    return None


def _set_list(option: CommentedMap, key: str, values: Sequence[str], language: str = "en") -> None:
    mapping = _translations(option.get(key))
    if mapping is None and language != DEFAULT_LANGUAGE:
        # The first translation turns the plain (English) list into a mapping.
        mapping = CommentedMap({DEFAULT_LANGUAGE: option.get(key) or CommentedSeq()})
        option[key] = mapping
    holder, slot = (mapping, language) if mapping is not None else (option, key)
    current = holder.get(slot)
    if isinstance(current, CommentedSeq):
        current[:] = list(values)  # same list object: its flow style stays
    else:
        seq = CommentedSeq(values)
        seq.fa.set_flow_style()
        holder[slot] = seq


def _set_text(node: CommentedMap, key: str, value: str, language: str = "en") -> None:
    """Set one language's text of ``node[key]``; the other languages' texts stay."""
    mapping = _translations(node.get(key))
    if mapping is not None:
        mapping[language] = value
    elif language == DEFAULT_LANGUAGE:
        node[key] = value
    else:
        mapping = CommentedMap({DEFAULT_LANGUAGE: node.get(key) or "", language: value})
        mapping.fa.set_flow_style()
        node[key] = mapping


def words_in(value: Any, language: str = "en") -> list[str]:
    """The words of a synonym list as written for ``language`` (plain lists are English)."""
    mapping = _translations(value)
    if mapping is not None:
        return [str(s) for s in mapping.get(language) or []]
    return [str(s) for s in value or []] if language == DEFAULT_LANGUAGE else []


def text_in(value: Any, language: str = "en") -> str:
    """A translatable text as written for ``language`` ('' when it has none)."""
    mapping = _translations(value)
    if mapping is not None:
        return _text(mapping.get(language))
    return _text(value) if language == DEFAULT_LANGUAGE else ""


def _number(value: str) -> float | int:
    try:
        number = float(value)
    except ValueError:
        raise EditError(_("{value!r} is not a number").format(value=value)) from None
    return int(number) if number.is_integer() else number


def _apply(docs: _Documents, edit: Edit) -> None:
    if edit.kind not in EDIT_KINDS:
        hint = did_you_mean(edit.kind, EDIT_KINDS)
        raise EditError(_hinted(_("unknown edit {kind!r}").format(kind=edit.kind), hint))
    if edit.kind == "ranking_weight":
        name, ranking = docs.section("ranking")
        if not isinstance(ranking, CommentedMap) or edit.key not in ranking:
            known = list(ranking) if isinstance(ranking, CommentedMap) else []
            hint = did_you_mean(edit.key, known)
            message = _("unknown ranking weight {key!r}").format(key=edit.key)
            raise EditError(_hinted(message, hint))
        ranking[edit.key] = _number(edit.value)
        docs.changed.add(name)
        return
    if edit.kind in ("filter_importance", "filter_value"):
        name, filters = docs.section("filters")
        if not isinstance(filters, CommentedSeq) or not 0 <= edit.index < len(filters):
            raise EditError(_("there is no filter number {number}").format(number=edit.index + 1))
        target = filters[edit.index]
        if edit.kind == "filter_importance":
            target["importance"] = _number(edit.value)
        elif _is_number(target.get("value")):
            target["value"] = _number(edit.value)  # a threshold: "weight le 9.0"
        else:
            raise EditError(
                _("filter {filter!r} has no number to change; edit the source").format(
                    filter=target.get("id")
                )
            )
        docs.changed.add(name)
        return
    if edit.kind in ("cross_sell", "requirement"):
        _set_rule_field(docs, "cross_sell" if edit.kind == "cross_sell" else "requirements", edit)
        return
    name, questions = docs.section("questions")
    question = _by_id(questions, edit.question, _("unknown question {id!r}"))
    value = edit.value.strip()
    if edit.kind == "question_text":
        if not value:
            message = _("the text of question {question!r} cannot be empty")
            raise EditError(message.format(question=edit.question))
        _set_text(question, "text", value, edit.language)
    elif edit.kind == "ask_if":
        if value:
            question["ask_if"] = value
        else:
            question.pop("ask_if", None)
    elif edit.kind == "move_question":
        position = questions.index(question)
        target = position + (-1 if value == "up" else 1)
        if 0 <= target < len(questions):
            questions.insert(target, questions.pop(position))
    else:
        # {id} is filled in by _by_id; a message keeps what it was given so far.
        unknown = _("unknown option of {question!r} {id!r}").format(question=edit.question)
        option = _by_id(question.get("options"), edit.option, unknown)
        if edit.kind == "option_label":
            _set_text(option, "label", value, edit.language)
        elif edit.kind == "option_synonyms":
            _set_list(option, "synonyms", _synonyms(edit.value), edit.language)
        else:  # add_synonym
            have = words_in(option.get("synonyms"), edit.language)
            if value and value.lower() not in (s.lower() for s in have):
                _set_list(option, "synonyms", [*have, value], edit.language)
    docs.changed.add(name)


def _set_rule_field(docs: _Documents, section: str, edit: Edit) -> None:
    """Set one field of the ``edit.index``-th rule of ``section`` (empty: removed if optional)."""
    fields = RULE_FIELDS[section]
    name, rules = docs.section(section)
    if not isinstance(rules, CommentedSeq) or not 0 <= edit.index < len(rules):
        raise EditError(
            _("there is no {section} rule number {number}").format(
                section=section, number=edit.index + 1
            )
        )
    if edit.key not in fields:
        hint = did_you_mean(edit.key, fields)
        raise EditError(_hinted(_("{key!r} cannot be edited here").format(key=edit.key), hint))
    rule, value, kind = rules[edit.index], edit.value.strip(), fields[edit.key]
    if kind == "number":
        rule[edit.key] = _number(value)
    elif kind == "choice":
        if value not in PREFER:
            raise EditError(
                _("{value!r} is not one of {choices}").format(
                    value=value, choices=", ".join(PREFER)
                )
            )
        rule[edit.key] = value
    elif value and kind == "text":
        _set_text(rule, edit.key, value, edit.language)
    elif value:
        rule[edit.key] = value
    elif kind == "condition":
        rule.pop(edit.key, None)  # no condition: always
    else:
        raise EditError(
            _("the {key} of {section} rule {rule!r} cannot be empty").format(
                key=edit.key, section=section, rule=rule.get("id")
            )
        )
    docs.changed.add(name)


def apply_edits(files: Mapping[str, str], edits: Sequence[Edit]) -> dict[str, str]:
    """The files with ``edits`` made, in order; files no edit touches are returned as given.

    Raises:
        EditError: an edit names an unknown question, option or weight, or a file it
            must change is not valid YAML; no edit is made then.
    """
    docs = _Documents(files)
    for edit in edits:
        _apply(docs, edit)
    return docs.result()


def outline(files: Mapping[str, str], language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """What the form shows: questions with their options, the filters and the ranking.

    Texts and synonyms are those of ``language`` (empty where they are not translated yet).

    Read from the YAML text as it is (not the checked rule set), so the form works on a
    draft with errors elsewhere. Sections that cannot be read are left empty.
    """
    docs = _Documents(files)
    result: dict[str, Any] = {
        "questions": [],
        "filters": [],
        "ranking": {},
        "cross_sell": [],
        "requirements": [],
    }
    for key in result:
        try:
            section = docs.section(key)[1]
        except EditError:
            continue
        if key == "questions" and isinstance(section, CommentedSeq):
            result[key] = [
                {
                    "id": str(q.get("id")),
                    "text": text_in(q.get("text"), language),
                    "type": str(q.get("type") or ""),
                    "ask_if": str(q.get("ask_if") or ""),
                    "options": [
                        {
                            "id": str(o.get("id")),
                            "label": text_in(o.get("label"), language),
                            "synonyms": words_in(o.get("synonyms"), language),
                        }
                        for o in q.get("options") or []
                        if isinstance(o, CommentedMap)
                    ],
                }
                for q in section
                if isinstance(q, CommentedMap)
            ]
        elif key == "filters" and isinstance(section, CommentedSeq):
            result[key] = [
                {
                    "index": i,
                    "attribute": str(f.get("attribute") or ""),
                    "op": str(f.get("op") or ""),
                    "answer": str(f.get("answer") or ""),
                    "importance": f.get("importance", 5),
                    "value": f.get("value") if _is_number(f.get("value")) else None,
                    "value_text": _shown(f.get("value")),
                    "label": text_in(f.get("label"), language) or str(f.get("id") or ""),
                }
                for i, f in enumerate(section)
                if isinstance(f, CommentedMap)
            ]
        elif key == "ranking" and isinstance(section, CommentedMap):
            result[key] = {str(k): v for k, v in section.items()}
        elif key in RULE_FIELDS and isinstance(section, CommentedSeq):
            result[key] = [
                {
                    "index": i,
                    "id": str(rule.get("id") or ""),
                    "category": str(rule.get("category") or _category(rule.get("target"))),
                    **{
                        f: text_in(rule.get(f), language) if kind == "text" else _text(rule.get(f))
                        for f, kind in RULE_FIELDS[key].items()
                    },
                    # A combined condition (all/any/not) is edited in the source.
                    "complex": [
                        f
                        for f, kind in RULE_FIELDS[key].items()
                        if kind == "condition" and not isinstance(rule.get(f), str | None)
                    ],
                }
                for i, rule in enumerate(section)
                if isinstance(rule, CommentedMap)
            ]
    return result


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _category(target: Any) -> str:
    return str(target.get("category") or "") if isinstance(target, CommentedMap) else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    """A filter's value as a merchandiser reads it: lists joined by commas."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
