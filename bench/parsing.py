"""Answer parser speed per language: p50/p95 per message, English against German.

```
.venv/bin/python bench/parsing.py                  # 200 rounds, ~10 s
.venv/bin/python bench/parsing.py --rounds 1000 --out bench/results/parsing.json
```

Parses the same answers in both languages (each German message says what its English
twin says) against the shipped road_bike rule set, with German labels and synonyms for
the German run, in one process and interleaved (en, de, en, de, ...), so both languages
see the same machine load. Each message gets a round number appended, so no cache makes
a message cheaper than real traffic. The first round is a warm-up (it loads the German
lemma tables) and is not counted. Prints p50/p95/p99 per language in microseconds and
the German/English ratio of p50 and p95; the target is a German p50 within 10 % of the
English one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stats import ratio, summary  # noqa: E402
from product_rules.loader import load_ruleset  # noqa: E402
from product_rules.parsing import AnswerParser  # noqa: E402
from product_rules.schema import RuleSet  # noqa: E402

# (current question, English, German): the same answer in both languages.
MESSAGES = [
    (
        None,
        "I'm a total beginner looking for a road bike for about 1.5k",
        "Ich bin blutiger Anfänger und suche ein Rennrad für ca. 1.500 €",
    ),
    ("usage", "mostly long weekend rides", "meistens lange Touren am Wochenende"),
    ("usage", "no racing, just commuting to work", "keine Rennen, nur zur Arbeit pendeln"),
    ("usage", "anything but racing", "alles außer Rennen"),
    ("experience", "I'm new to cycling", "ich bin neu beim Radfahren"),
    ("experience", "not that experienced", "nicht so erfahren"),
    ("experience", "total beginer", "totaler Anfänher"),
    ("budget", "between 1000 and 1500", "zwischen 1000 und 1500"),
    ("budget", "up to 2,000 euros", "bis 2.000 Euro"),
    ("budget", "two thousand", "zweitausend"),
    ("body_height_cm", "1,82 m", "1,82 m"),
    ("body_height_cm", "six foot", "eins zweiundachtzig"),
    ("inseam_cm", "inseam 86", "Schrittlänge 86"),
    ("shoes_owned", "I have road shoes with SPD-SL cleats", "ich habe Rennradschuhe mit SPD-SL"),
    ("shoes_owned", "no, just trainers", "nein, nur Turnschuhe"),
    ("shoes_owned", "don't know", "weiß nicht"),
]

GERMAN = {
    "endurance": ("Lange Touren und Fitness", ["lange Touren", "Touren", "Fitness", "Komfort"]),
    "racing": ("Rennen und schnelle Gruppenausfahrten", ["Rennen", "Wettkampf", "schnell"]),
    "commute": ("Zur Arbeit pendeln", ["pendeln", "Arbeitsweg", "zur Arbeit", "Alltag"]),
    "beginner": ("Ich bin neu dabei", ["Anfänger", "Einsteiger", "neu dabei", "keine Erfahrung"]),
    "intermediate": ("Ich fahre regelmäßig", ["regelmäßig", "ab und zu", "Hobby"]),
    "racer": ("Ich fahre Rennen oder trainiere hart", ["erfahren", "Profi", "Rennfahrer"]),
    "none": ("Nein, normale Schuhe", ["nein", "normale Schuhe", "Turnschuhe", "Sneaker"]),
    "spd": ("Ja, SPD (2-Loch)", ["SPD", "MTB-Schuhe", "2-Loch"]),
    "spd_sl": ("Ja, SPD-SL", ["SPD-SL", "Rennradschuhe", "3-Loch"]),
    "look_keo": ("Ja, Look Keo", ["Look Keo", "Keo"]),
}


def german(ruleset: RuleSet) -> RuleSet:
    """The rule set with German labels and synonyms (until the rule files carry them)."""
    questions = [
        q.model_copy(
            update={
                "options": [
                    o.model_copy(update={"label": GERMAN[o.id][0], "synonyms": GERMAN[o.id][1]})
                    for o in q.options
                ]
            }
        )
        for q in ruleset.questions
    ]
    return ruleset.model_copy(
        update={"title": "Rennrad", "synonyms": ["Rennrad"], "questions": questions}
    )


def main() -> None:
    """Measure and print the figures."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=200, help="passes over the messages")
    args.add_argument("--out", type=Path, help="also write the figures as JSON here")
    options = args.parse_args()

    english = load_ruleset(ROOT / "product_rules" / "rules" / "road_bike").ruleset
    parsers = {"en": AnswerParser(english), "de": AnswerParser(german(english))}
    samples: dict[str, list[float]] = {"en": [], "de": []}
    for round_ in range(options.rounds + 1):
        for current, en, de in MESSAGES:
            for language, text in (("en", en), ("de", de)):
                message = f"{text} {round_}"
                start = time.perf_counter()
                parsers[language].parse(message, current=current, language=language)
                elapsed = (time.perf_counter() - start) * 1e6
                if round_:
                    samples[language].append(elapsed)

    figures = {language: summary(values) for language, values in samples.items()}
    print(f"answer parser, {len(MESSAGES)} messages x {options.rounds} rounds per language")
    print(f"{'':4}{'n':>7}{'p50 µs':>10}{'p95 µs':>10}{'p99 µs':>10}")
    for language, s in figures.items():
        print(f"{language:4}{s['n']:>7}{s['p50']:>10.0f}{s['p95']:>10.0f}{s['p99']:>10.0f}")
    p50 = ratio(figures["de"]["p50"], figures["en"]["p50"], digits=2)
    p95 = ratio(figures["de"]["p95"], figures["en"]["p95"], digits=2)
    print(f"de/en  p50 {p50}   p95 {p95}   (target: p50 within 10 %)")
    if options.out:
        options.out.write_text(json.dumps({"figures": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
