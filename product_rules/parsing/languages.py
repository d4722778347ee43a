"""The words the parser needs per language: yes, no, doubt, negation, fillers, topic words.

Everything language-specific that is not in the rule files lives here, one
:class:`LanguageTables` per language. Rule files carry the synonyms of options and the
cues of number questions; until they carry them per language, :attr:`LanguageTables.cues`
translates the English cues a question carries ("inseam") into the words a shopper of
another language uses ("Schrittlänge"). When the rule files get per-language cues, that
table goes.

German tables also hold the English words of the same kind: German shoppers write "ok"
and "sorry", and none of these English words means something else in German.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# The parser reads the languages the rule files are written in.
from product_rules.localize import LANGUAGES

__all__ = ["LANGUAGES", "LanguageTables", "UnsupportedLanguageError", "language_code", "tables"]


class UnsupportedLanguageError(ValueError):
    """A language the parser does not read; pass one of :data:`LANGUAGES`."""

    def __init__(self, language: object) -> None:
        super().__init__(
            f"the answer parser does not read language {language!r}; "
            f"use one of {', '.join(LANGUAGES)}"
        )


def language_code(language: str) -> str:
    """Normalise a language tag to a supported code: "de-DE" and "DE" are "de".

    Raises:
        UnsupportedLanguageError: The language is not one of :data:`LANGUAGES`.
    """
    code = language.split("-")[0].split("_")[0].strip().lower() if isinstance(language, str) else ""
    if code not in LANGUAGES:
        raise UnsupportedLanguageError(language)
    return code


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class LanguageTables:
    """Word tables of one language; see the module docstring.

    Attributes:
        dont_know: Phrases of doubt or skipping ("no idea", "weiß nicht", "egal").
        yes: Phrases that answer a yes/no question with yes.
        no: Phrases that answer it with no.
        negations: Words that negate the rest of their clause ("not", "kein").
        short_negations: Negations that, as an interjection, reach only two tokens.
        after_interjection: Words after which a short negation answers on its own
            ("no I want racing", "nein ich will Rennen").
        negating_determiners: Negations that, as an option's whole phrase ("no",
            "keine"), answer only alone or before the question's own words: "no carbon"
            and "keine Rennen" negate the word after them.
        copula: Verbs linking an option to a refusal after it ("carbon is not for me").
        scope_ends: Words that end a negation's clause ("but", "sondern").
        doubt: Words that make a negation doubt, not refusal ("not sure", "keine Ahnung").
        doubt_before: The same before the negation ("weiß nicht").
        excepting: "anything", "alles" in "anything but racing", "alles außer Rennen".
        excepts: "but", "außer".
        refusals: Token sequences that refuse the option before them ("no way").
        final_negations: Words that, ending a clause after an option, refuse it
            ("Carbon brauche ich nicht"); empty where the language puts them before.
        fillers: Words a loose match may drop or reorder.
        pronouns: Stand-ins of a multi-word synonym ("new to it") and the prepositions
            that must precede the word standing in for them (German "dabei" is "bei X").
        determiners: Words allowed between a stand-in's preposition and its word.
        topic: Words that may stand in for a pronoun: the activity the rule sets are
            about ("cycling", "Radsport"); the rule set's own names are added.
        cues: English cue of a number question to the cue words of this language.
    """

    dont_know: tuple[str, ...]
    yes: tuple[str, ...]
    no: tuple[str, ...]
    negations: frozenset[str]
    short_negations: frozenset[str]
    after_interjection: frozenset[str]
    negating_determiners: frozenset[str]
    copula: frozenset[str]
    scope_ends: frozenset[str]
    doubt: frozenset[str]
    doubt_before: frozenset[str]
    excepting: frozenset[str]
    excepts: frozenset[str]
    refusals: frozenset[tuple[str, ...]]
    final_negations: frozenset[str]
    fillers: frozenset[str]
    pronouns: dict[str, tuple[str, ...]]
    determiners: frozenset[str]
    topic: frozenset[str]
    cues: dict[str, tuple[str, ...]]


_EN = LanguageTables(
    dont_know=_phrases(
        "don't know, dont know, do not know, no idea, not sure, unsure, no clue, not a clue, "
        "dunno, idk, skip, skip it, whatever, don't care, dont care, do not care, "
        "doesn't matter, does not matter, no preference, up to you, you decide, you choose, "
        "haven't decided, not decided, undecided"
    ),
    yes=_phrases(
        "yes, yeah, yep, yup, yea, ya, sure, of course, definitely, absolutely, correct, "
        "certainly, indeed, ok, okay, affirmative, y"
    ),
    no=_phrases(
        "no, nope, nah, not really, no way, not at all, never, negative, n, i don't, "
        "i do not, i haven't"
    ),
    # Apostrophe-less spellings are how people type on phones.
    negations=_words(
        "not n't never without nothing neither nor no none "
        "dont doesnt didnt isnt arent wasnt wont wouldnt cant couldnt havent hardly"
    ),
    short_negations=_words("no none"),
    after_interjection=_words("i i'm im we you it that this thanks thank please really yet sorry"),
    negating_determiners=_words("no none"),
    copula=_words("is 's are be"),
    scope_ends=_words("but just only rather instead more though although however"),
    doubt=_words("sure certain know idea clue"),
    doubt_before=frozenset(),
    excepting=_words("anything everything whatever"),
    excepts=_words("but except besides"),
    refusals=frozenset(
        tuple(p.split())
        for p in _phrases(
            "no, nope, nah, never, no way, no thanks, no thank you, no chance, not for me, "
            "n't for me, out, a no, not really, definitely not, absolutely not, god no, hell no"
        )
    ),
    final_negations=frozenset(),
    fillers=_words("a an the of for to and or at in on with my i me it be -"),
    pronouns={"it": (), "this": (), "that": ()},
    determiners=_words("the a an my this"),
    topic=_words("cycling riding biking bike bikes cyclist road sport"),
    cues={},
)

_DE = LanguageTables(
    dont_know=(
        *_phrases(
            "weiß nicht, weiss nicht, weiß ich nicht, weiss ich nicht, ich weiß es nicht, "
            "keine ahnung, k.a., ka, kA, egal, ist mir egal, mir egal, ist egal, nicht sicher, "
            "bin mir nicht sicher, unsicher, überspringen, weiter, du entscheidest, "
            "entscheide du, wie du meinst, keine präferenz, keine vorliebe, "
            "noch nicht entschieden, unentschlossen, schwer zu sagen"
        ),
        *_EN.dont_know,
    ),
    yes=(
        *_phrases(
            "ja, jap, jep, jo, jawohl, klar, na klar, natürlich, sicher, genau, richtig, "
            "stimmt, gerne, gern, auf jeden fall, sicherlich, freilich, doch, ja klar, "
            "ja gerne, ja bitte, selbstverständlich"
        ),
        *_EN.yes,
    ),
    no=(
        *_phrases(
            "nein, nee, ne, nö, nicht wirklich, auf keinen fall, niemals, nie, keine, keins, "
            "habe ich nicht, hab ich nicht, habe keine, hab keine, eher nicht, gar nicht, "
            "nein danke, noch nicht"
        ),
        *_EN.no,
    ),
    negations=_words("nicht nie niemals nichts ohne weder kein keine keinen keinem keiner")
    | _words("keines keins nö nee")
    | _EN.negations,
    short_negations=_words("nein") | _EN.short_negations,
    after_interjection=_words("ich wir du es das danke bitte lieber doch") | _EN.after_interjection,
    negating_determiners=_words("nein kein keine keinen keins keines") | _EN.negating_determiners,
    copula=_words("ist sind ist's wäre") | _EN.copula,
    # Not "mehr": "nicht mehr Anfänger" is no beginner any more.
    scope_ends=_words("aber sondern nur eher lieber stattdessen doch jedoch obwohl")
    | _EN.scope_ends,
    doubt=_words("sicher ahnung plan idee weiß weiss") | _EN.doubt,
    doubt_before=_words("weiß weiss wissen"),
    excepting=_words("alles irgendwas egal") | _EN.excepting,
    excepts=_words("außer ausser bis") | _EN.excepts,
    refusals=frozenset(
        tuple(p.split())
        for p in _phrases(
            "nein, nee, ne, nö, nie, niemals, nein danke, danke nein, bloß nicht, bloss nicht, "
            "lieber nicht, auf keinen fall, keinesfalls, nicht für mich, nichts für mich, "
            "eher nicht, gar nicht, nicht wirklich, nicht, kommt nicht in frage, "
            "auf gar keinen fall, ist nichts für mich, brauche ich nicht, will ich nicht"
        )
    )
    | _EN.refusals,
    final_negations=_words("nicht nie niemals"),
    fillers=_words(
        "der die das den dem des ein eine einen einem einer eines zu zum zur für und oder "
        "mit mein meine meinen ich mir mich es sein bin ist am im in an auf von vom bei beim"
    )
    | _EN.fillers,
    pronouns={
        "es": (),
        "das": (),
        "dabei": ("bei", "beim"),
        "damit": ("mit",),
        "darin": ("in", "im"),
        "drin": ("in", "im"),
        "daran": ("an", "am"),
        "dran": ("an", "am"),
        "davon": ("von", "vom"),
        "dafür": ("für",),
        **_EN.pronouns,
    },
    determiners=_words("der die das dem den des ein eine einem einen einer mein meinem")
    | _EN.determiners,
    topic=_words(
        "radfahren rennradfahren radsport rennradsport radeln fahrrad rad rennrad sport "
        "fahren thema straßenrad"
    )
    | _EN.topic,
    cues={
        "inseam": ("schrittlänge", "schritthöhe", "schrittlaenge", "innenbeinlänge"),
        "inside leg": ("innenbein", "beininnenlänge", "innere beinlänge"),
        "leg length": ("beinlänge", "beinlaenge"),
        "inner leg": ("innenbeinlänge", "innenbein"),
    },
)

_TABLES = {"en": _EN, "de": _DE}


@cache
def tables(language: str) -> LanguageTables:
    """The word tables of ``language`` (a code or tag, "de-DE" is "de").

    Raises:
        UnsupportedLanguageError: The language is not one of :data:`LANGUAGES`.
    """
    return _TABLES[language_code(language)]
