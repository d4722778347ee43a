"""Which language a shopper writes in: an explicit request, or a guess from their words.

Two small, pure functions, no model:

- :func:`language_asked` reads an explicit request ("auf Deutsch bitte", "English
  please", "kannst du Deutsch?").
- :func:`guess_language` scores a message's words: German and English function words
  and chat words ("ich", "suche", "bitte" against "I", "looking", "please"), German
  letters (ä, ö, ü, ß) and, when given, the rule sets' own vocabulary in each language
  (words only one of the languages uses: "Rennrad", "Klickpedale" against "cleats").
  :func:`detect_language` turns the scores into a language only when one language leads
  clearly; "ja", "Rennrad", "ok" or "1500" alone decide nothing.

The advisor uses the guess only when neither the page (message metadata) nor the
shopper's explicit choice gave a language, and only on a conversation's first messages
(:mod:`advisor.service`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "DETECT_MARGIN",
    "SWITCH_PHRASES",
    "LanguageGuess",
    "detect_language",
    "exclusive_words",
    "guess_language",
    "language_asked",
    "words_of",
]

#: Phrases that switch the chat's language, whatever intent the classifier saw.
SWITCH_PHRASES: dict[str, tuple[str, ...]] = {
    "de": (
        "auf deutsch",
        "deutsch bitte",
        "deutsch, bitte",
        "in deutsch",
        "lieber deutsch",
        "kannst du deutsch",
        "können sie deutsch",
        "koennen sie deutsch",
        "sprichst du deutsch",
        "sprechen sie deutsch",
        "können wir deutsch",
        "koennen wir deutsch",
        "in german",
        "german please",
        "speak german",
    ),
    "en": (
        "english please",
        "english, please",
        "in english",
        "speak english",
        "talk in english",
        "write in english",
        "english instead",
        "auf englisch",
        "englisch bitte",
        "englisch, bitte",
        "lieber englisch",
        "kannst du englisch",
        "können sie englisch",
        "koennen sie englisch",
        "sprichst du englisch",
        "sprechen sie englisch",
        "können wir englisch",
        "koennen wir englisch",
    ),
}

#: A message that is nothing but the language's name asks for it too ("English?").
_NAMES = {
    "deutsch": "de",
    "german": "de",
    "english": "en",
    "englisch": "en",
}

_REFUSED = re.compile(
    r"\b(?:don'?t|do not|not|no|kein|keine|nicht)\b(?:\s+[\w']+){0,2}?\s+"
    r"(?:auf\s+|in\s+)?(german|english|deutsch|englisch)\b"
)

#: How far one language must lead for :func:`detect_language` to decide.
DETECT_MARGIN = 2

#: Words that mark a German message: function words and what shoppers type in a chat.
#: Words both languages use ("in", "so", "was", "will", "man", "also", "hi", "ok",
#: "super", "fast", "tour", "gravel", "bike", "e-bike") are in neither list.
GERMAN_WORDS = frozenset(
    """
    ich mich mir mein meine meinen meinem meiner du dich dir dein deine sie ihnen ihr
    euch euer eure wir uns unser ihm ihn es
    und oder aber nicht nichts kein keine keinen keinem keiner nein ja doch jein
    ein eine einen einem einer der die das den dem des dies diese dieser dieses
    ist bin bist sind sein wäre waere habe hab hast hat haben hätte haette
    möchte moechte möchten moechten mag mögen will willst wollen würde wuerde würden
    kann kannst können koennen könnte koennte muss musst müssen soll sollte
    suche suchen sucht brauche brauchst braucht gebraucht gibt geben gib zeig zeige
    bitte danke dankeschön dankeschoen hallo tschüss tschuess tschüs servus moin
    guten tag morgen abend gern gerne genau stimmt richtig klar passt
    mit für fuer von vom zu zum zur auf bei beim nach aus über ueber unter bis
    ohne gegen durch etwa ca ungefähr ungefaehr höchstens hoechstens maximal mindestens
    wie wer wo warum wieso weshalb welche welcher welches welchen wann wieviel
    auch noch schon sehr viel viele wenig mehr weniger etwas nur lieber eher meistens
    hauptsächlich hauptsaechlich oft selten immer nie mal nochmal jetzt dann hier
    weiß weiss gut schlecht neu alt groß gross klein lang lange schnell
    fahre fährst fahren fährt fahrer fahrerin rad räder fahrrad fahrräder rennrad
    rennräder stadtrad pedale schuhe größe groesse rahmen preis ausgeben kosten
    anfänger anfaenger einsteiger erfahrung erfahren regelmäßig regelmaessig arbeit
    wochenende touren strecke kilometer zentimeter
    ganz gar normal normale normalen eigentlich vielleicht wirklich ziemlich bisschen
    paar einfach halt eben naja sondern weil dass wenn ob denn totaler totale
    turnschuhe radschuhe klickpedale schrittlänge körpergröße stadt berge hügel
    gelände schotter wald straße strasse weg wege jahre woche wochen täglich zeit
    hilfe frage antwort empfehlen empfiehl empfehlung kaufen nehmen nutzen zeigen
    sprechen reden mensch menschen verkäufer beratung bleiben brauchen
    """.split()
)

ENGLISH_WORDS = frozenset(
    """
    i i'm i've ive i'd me my mine you you're your we our us he she they them it's
    and or but not no nope yes yeah yep yup
    the a this that these those there here
    is are were be been being have has had having do does did don't dont
    doesn't didn't can can't cant could would should shall must may might
    want wants wanted need needs needed looking search searching find get buy
    please thanks thank hello goodbye sure
    with for from to of on at about around under over above below between up than
    without into by
    what what's whats who where why which when how much many
    some any just only really very more less most mostly mainly rather quite
    often never always sometimes now then again still already also
    new old big small long short slow good bad best better cheap cheaper
    ride rides riding rider cycle cycling bicycle road shoes pedals
    size height tall frame price spend cost work weekend beginner experience
    experienced regularly newbie
    """.split()
)

#: German letters: each word that has one counts for German.
_GERMAN_LETTERS = re.compile(r"[äöüß]")
_WORD = re.compile(r"[a-zäöüß]+(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """The evidence of one message: points per language."""

    de: float = 0.0
    en: float = 0.0

    @property
    def leader(self) -> str | None:
        """The language with more points, ``None`` on a tie."""
        if self.de == self.en:
            return None
        return "de" if self.de > self.en else "en"

    @property
    def margin(self) -> float:
        """How far the leader leads."""
        return abs(self.de - self.en)


def words_of(text: str) -> list[str]:
    """The message's words, lower-cased ("I'm" stays one word)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def language_asked(text: str) -> str | None:
    """The language a message asks for ("auf Deutsch bitte" -> ``de``), if any.

    A language refused ("I don't speak German", "kein Englisch bitte") asks for the other.
    """
    lowered = " ".join(text.lower().replace("’", "'").split())
    refused = _REFUSED.search(lowered)
    if refused is not None:
        return "en" if _NAMES[refused.group(1)] == "de" else "de"
    for language, phrases in SWITCH_PHRASES.items():
        if any(phrase in lowered for phrase in phrases):
            return language
    bare = lowered.strip(" ?!.,")
    return _NAMES.get(bare)


def exclusive_words(vocabulary: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Words of each language's vocabulary that the other language's does not have.

    ``vocabulary`` maps a language to phrases (a rule set's synonyms, ``"lange
    touren"``): they are split into words, and words of fewer than four letters are
    left out (too often shared, or a function word already scored).
    """
    words = {
        language: {w for phrase in phrases for w in words_of(phrase) if len(w) >= 4}
        for language, phrases in vocabulary.items()
    }
    everything = set().union(*words.values()) if words else set()
    return {
        language: frozenset(
            w
            for w in own
            if all(w not in other for lang, other in words.items() if lang != language)
            and w in everything
        )
        for language, own in words.items()
    }


def guess_language(
    text: str, *, vocabulary: Mapping[str, Collection[str]] | None = None
) -> LanguageGuess:
    """Points for German and English in ``text``.

    One point per German or English marker word, one per word with a German letter
    (not twice for a marker word), one per word only that language's ``vocabulary``
    holds (see :func:`exclusive_words`).
    """
    de = en = 0.0
    german_vocabulary = (vocabulary or {}).get("de", ())
    english_vocabulary = (vocabulary or {}).get("en", ())
    for word in words_of(text):
        bare = word.replace("'", "")
        if word in GERMAN_WORDS or bare in GERMAN_WORDS:
            de += 1
        elif word in ENGLISH_WORDS or bare in ENGLISH_WORDS:
            en += 1
        elif _GERMAN_LETTERS.search(word) or word in german_vocabulary:
            de += 1
        elif word in english_vocabulary:
            en += 1
    return LanguageGuess(de=de, en=en)


def detect_language(
    text: str,
    *,
    margin: float = DETECT_MARGIN,
    vocabulary: Mapping[str, Collection[str]] | None = None,
) -> str | None:
    """The language ``text`` is written in when one leads by ``margin`` points, else ``None``."""
    guess = guess_language(text, vocabulary=vocabulary)
    return guess.leader if guess.margin >= margin else None
