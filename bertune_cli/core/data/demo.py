"""The embedded German→English demo corpus: a deterministic generator of natural sentence pairs.

A small grammar over the lexicon in ``demo_lexicon`` builds each clause once, abstractly, and
realizes it in both languages: German with case-marked articles, strong/weak/mixed adjective
endings, V2 / verb-first / verb-final order, separable verbs, haben/sein perfects and modals;
(British) English with a/an, do-support, third person -s, simple past and "will" for a German
present with a future adverb. Shapes: statements, yes/no and W-questions, questions to someone
addressed by name, "weil"/"dass" clauses, negation with nicht/kein. Every German sentence has
exactly one English translation, so a small Transformer learns the task in minutes.
"""
from __future__ import annotations

import random
from collections import namedtuple
from typing import NamedTuple

from bertune_cli.core.data import demo_lexicon as lex

DEFAULT_SIZES = {"train": 20000, "valid": 500, "test": 500}
MIN_WORDS, MAX_WORDS = 4, 20

_PERSON = {"1s": 0, "2s": 1, "3s": 2, "1p": 3, "2p": 4, "3p": 5}
_CASE = {"nom": 0, "acc": 1, "dat": 2}
_DEF, _EIN, _CONTRACT = lex.DEFINITE, lex.EIN_ENDINGS, lex.CONTRACTIONS
_WEAK, _MIXED, _STRONG = (lex.ADJ_ENDINGS[k] for k in ("weak", "mixed", "strong"))
_PARADIGM = {k: v.split() for k, v in lex.PARADIGMS.items()}
_MODALS = {"can": "können", "want": "wollen", "must": "müssen"}
_BE = {"be": ("am", "is", "are"), "be_past": ("was", "was", "were")}
_AN_EXCEPTIONS = {"university", "uniform", "useful", "european", "one"}
_DU_FORMS = {"du", "dich", "dir", "dein", "deine", "deinen", "deinem", "deiner"}


_Noun = namedtuple("_Noun", "sg pl g en_sg en_pl tags obl", defaults=("",))
_Adj = namedtuple("_Adj", "de stem en tags")
# at: tag of an optional place ("kaufen ... auf dem Markt"); inf = prefix + base
_Verb = namedtuple("_Verb", "inf prefix base du er part aux en frame args tags at")


def _verb(inf, irregular, part, aux, en, frame, args, tags) -> _Verb:
    prefix, _, base = inf.rpartition("|")
    du, er = irregular.split() if irregular else ("", "")
    at = next((t[3:] for t in tags.split() if t.startswith("at=")), "")
    return _Verb(prefix + base, prefix, base, du, er, part, aux, tuple(en.split("/")), frame,
                 frozenset(args.split()), frozenset(tags.split()), at)


_NOUNS = [_Noun(*r[:5], frozenset(r[5].split()), *r[6:]) for r in lex.NOUNS]
# The inflection stem drops a final -e (müde -> müd-e) or is given (teuer -> teur-e).
_ADJS = [_Adj(de, stem or de.removesuffix("e"), en, frozenset(t.split()))
         for de, stem, en, t in lex.ADJECTIVES]
_VERBS = [_verb(*r) for r in lex.VERBS]
_INTRO = [_verb(inf, "", "", "h", en + "/", "intro", "", "") for inf, en in lex.INTRO_VERBS]
# Lists (never sets) keep every choice independent of string hashing, hence reproducible.
_NOUN_ADJS = {n: [a for a in _ADJS if a.tags & n.tags] for n in _NOUNS}
_PLACE_ADJS = [a for a in _ADJS if "place" in a.tags and "state" not in a.tags]
_WEATHER_ADJS = [a for a in _ADJS if "weather" in a.tags]
_HOME_TAGS = frozenset(lex.HOME[4].split())
_PLACES = [(_Noun(de, "", g, en, "", frozenset(tags.split())), lp, le, dp, dn)
           for de, g, en, lp, le, dp, dn, tags in lex.PLACES]


def _nouns(tags) -> list[_Noun]:
    return [n for n in _NOUNS if n.tags & tags]


_PERSONS, _ANIMALS = _nouns({"person"}), _nouns({"animal"})
_OBJ_PRONOUNS = [p for p in lex.PRONOUNS if p[6]]
_ARGS = {v: _nouns(v.args) for v in _VERBS}
_LOCATED = _nouns({"small"})
_DESCRIBED = [n for n in _NOUNS if _NOUN_ADJS[n] and not n.tags & {"lang", "weather"}]
_WETTER = next(n for n in _NOUNS if n.sg == "Wetter")
_PERSON_ADJS = [a for a in _ADJS if "person" in a.tags]
_PLACES_OF = {k: frozenset(v.split()) for k, v in lex.PLACES_FOR.items()}
_TIMES = {mode: [t for t in lex.TIMES if t[2] in ok] for mode, ok in lex.TENSE_TIMES.items()}


class NP:
    """A noun phrase in both languages; German inflects it for case on demand.

    kind: def / indef / bare / num / poss (``word`` = (German, English) number or possessive)
    or pron / name with fixed ``forms`` (nom, acc, dat, English subject, English object).
    """

    def __init__(self, kind, noun=None, plural=False, adj=None, word=("", ""), forms=None,
                 p="3s"):
        self.kind, self.noun, self.plural, self.adj, self.word = kind, noun, plural, adj, word
        self.forms, self.p = forms, "3p" if plural else p

    def de(self, case: str, kein: bool = False) -> list[str]:
        c = _CASE[case]
        if self.forms:
            return [self.forms[c]]
        n, g = self.noun, "pl" if self.plural else self.noun.g
        noun = n.pl if self.plural else (n.obl if n.obl and c else n.sg)
        if self.plural and c == 2 and noun[-1] not in "ns":
            noun += "n"  # dative plural: den Kindern, mit drei Äpfeln
        kind = "kein" if kein else self.kind
        if kind == "def":
            det, ends = [_DEF[g][c]], _WEAK
        elif kind in ("indef", "kein", "poss"):
            stem = {"indef": "ein", "kein": "kein"}.get(kind, self.word[0])
            det, ends = [stem + _EIN[g][c]], _MIXED
        else:  # bare or number: the adjective carries the case (strong ending)
            det, ends = ([self.word[0]] if kind == "num" else []), _STRONG
        return det + ([self.adj.stem + ends[g][c]] if self.adj else []) + [noun]

    def en(self, case: str = "nom") -> list[str]:
        # "kein X" is rendered as "not ... a X" / "not ... X", i.e. the same English NP.
        if self.forms:
            return [self.forms[3 if case == "nom" else 4]]
        words = ([self.adj.en] if self.adj else []) + [self.noun.en_pl if self.plural
                                                       else self.noun.en_sg]
        vowel = words[0][0] in "aeiou" and words[0].split()[0] not in _AN_EXCEPTIONS
        det = {"def": ["the"], "indef": ["an" if vowel else "a"], "num": [self.word[1]],
               "poss": [self.word[1]]}.get(self.kind, [])
        return det + words


def _pron(row) -> NP:
    return NP("pron", forms=row[:5], p=row[5])


_WHO, _ES = NP("pron", forms=("wer", "wen", "wem", "who", "who")), _pron(lex.IT)


def _np(rng: random.Random, noun: _Noun, adj_p: float = 0.3) -> NP:
    if "lang" in noun.tags:
        return NP("bare", noun)
    mass, plonly, fam = not noun.pl, not noun.sg, "fam" in noun.tags
    plural = plonly or (not mass and not fam and rng.random() < 0.35)
    kinds = [("def", 4)] + ([] if "noposs" in noun.tags else [("poss", 3 if fam else 2)])
    if not plural and not mass and not fam:
        kinds.append(("indef", 3))
    if (plural or mass) and not fam:  # bare plural persons ("Köchinnen lesen") sound generic
        kinds += [("bare", 0 if "person" in noun.tags else 1.5)] + [("num", 2)] * plural
    kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
    word = rng.choice(lex.POSSESSIVES if kind == "poss" else lex.NUMBERS)
    adj = rng.choice(_NOUN_ADJS[noun]) if _NOUN_ADJS[noun] and rng.random() < adj_p else None
    return NP(kind, noun, plural, adj, word)


def _person(rng, subj=None, pron_p=0.2, animals=False, rows=_OBJ_PRONOUNS) -> NP:
    """A person (or animal) phrase: pronoun, name or noun phrase, never reflexive to ``subj``."""
    r = rng.random()
    if r < pron_p:
        rows = [p for p in rows if subj is None or p[5] != subj.p or p[5][0] == "3"]
        return _pron(rng.choice(rows))
    if r < pron_p + 0.15:
        return NP("name", forms=(rng.choice(lex.NAMES),) * 5)
    pool = _ANIMALS if animals and rng.random() < 0.4 else _PERSONS
    return _np(rng, rng.choice(pool))


def _pp(prep: str, np_de: list[str]) -> list[str]:
    short = _CONTRACT.get((prep, np_de[0]))
    return [short] + np_de[1:] if short else [prep] + np_de


def _place(rng, frame: str, tags) -> tuple[list[str], list[str]]:
    """A where / where-to / where-from phrase for a verb whose places carry ``tags``."""
    places = [p for p in _PLACES if p[0].tags & tags and (frame == "loc" or p[3])]
    if frame == "orig" or ("city" in tags and (not places or rng.random() < 0.35)):
        de, en = rng.choice(lex.CITIES)
        prep = {"loc": ("in", "in"), "dir": ("nach", "to"), "orig": ("aus", "from")}[frame]
        return [prep[0], de], [prep[1], en]
    if _HOME_TAGS & tags and rng.random() < 1 / (len(places) + 1):  # zu Hause / nach Hause
        return [list(x) for x in (lex.HOME[:2] if frame == "loc" else lex.HOME[2:4])]
    noun, loc_de, loc_en, dir_de, dir_en = rng.choice(places)
    prep_de, prep_en = (loc_de, loc_en) if frame == "loc" else (dir_de, dir_en)
    adj = rng.choice(_PLACE_ADJS) if "adj" in noun.tags and rng.random() < 0.2 else None
    np, case = NP("def", noun, adj=adj), "dat" if frame == "loc" or prep_de == "zu" else "acc"
    en = np.en()[prep_en.endswith(" -"):]  # "at school": English drops the article here
    return _pp(prep_de, np.de(case)), [prep_en.removesuffix(" -")] + en


class Clause:
    """One clause, built once and realized in both languages by ``_realize``."""

    def __init__(self, subj: NP, mode: str, verb: _Verb | None = None, kind: str = "verb"):
        self.subj, self.mode, self.verb, self.kind = subj, mode, verb, kind
        self.acc = self.dat = self.pred = self.place = self.time = self.freq = None
        self.comps, self.neg, self.front, self.optional_place = [], False, False, False
        self.timeless = bool(verb and "state" in verb.tags)  # no "heute" with kennen, rot


def _finite(v: _Verb, p: str) -> str:
    """German present tense of ``v`` for person ``p`` (without a separable prefix)."""
    if v.base in _PARADIGM:
        return _PARADIGM[v.base][_PERSON[p]]
    if (p == "2s" and v.du) or (p == "3s" and v.er):
        return v.du if p == "2s" else v.er
    stem = v.base[:-2] if v.base.endswith("en") else v.base[:-1]
    e = "e" if stem[-1] in "td" or stem.endswith("ffn") else ""  # arbeitet, öffnest
    if p == "1s":
        return stem + "e"
    if p == "2s":
        return stem + ("t" if stem[-1] in "sßzx" else e + "st")  # du liest, du schließt
    return stem + e + "t" if p in ("3s", "2p") else v.base


def _de_verb(cl: Clause) -> tuple[str, list[str]]:
    """The finite German verb and the rest of the verb group (participle/infinitive/prefix)."""
    i, v, m = _PERSON[cl.subj.p], cl.verb, cl.mode
    if m in ("be", "be_fut", "be_past"):  # speakers use the preterite "war" for sein's past
        return _PARADIGM["war" if m == "be_past" else "sein"][i], []
    if m == "perf":
        return _PARADIGM["haben" if v.aux == "h" else "sein"][i], [v.part]
    if m in _MODALS:
        return _PARADIGM[_MODALS[m]][i], [v.inf]
    return _finite(v, cl.subj.p), [v.prefix] if v.prefix else []


def _en_vp(cl: Clause, inverted: bool) -> tuple[list[str], list[str]]:
    """English verb group: (words before the subject in a question, words after the subject)."""
    p, m, third = cl.subj.p, cl.mode, cl.subj.p == "3s"
    base, s3, past = cl.verb.en if cl.verb else ("", "", "")
    freq, tail = ([cl.freq[1]] if cl.freq else []), []
    if m in ("want", "must"):  # "wants to buy", "does not have to buy"
        tail, m = ["to", base], "pres"
        base, s3 = ("want", "wants") if cl.mode == "want" else ("have", "has")
    if m in ("pres", "perf") and not (cl.neg or inverted):  # no do-support needed
        return [], (freq + [s3 if third else base] if m == "pres" else [past]) + tail
    if m in _BE:
        aux, rest = _BE[m][0 if p == "1s" else 1 if third else 2], []
    elif m == "be_fut":
        aux, rest = "will", ["be"]
    else:
        aux = {"pres": "does" if third else "do", "perf": "did", "fut": "will", "can": "can"}[m]
        rest = [base]
    if cl.neg:
        return [], (["cannot"] if aux == "can" else [aux, "not"]) + rest + tail
    if inverted:
        return [aux], rest + tail
    return [], [aux] + freq + rest + tail


def _realize(cl: Clause, form: str, lead=([], [])) -> tuple[list[str], list[str]]:
    """German and English tokens of ``cl`` as a statement ("decl"), a question ("q", after the
    question word in ``lead``) or a subordinate clause ("sub": German verb last)."""
    finite, rest = _de_verb(cl)
    kein = cl.neg and cl.acc is not None and cl.acc.kind in ("indef", "bare")
    front = form == "decl" and cl.front and cl.time is not None
    objects = ((cl.acc, "acc"), (cl.dat, "dat"))
    # German middle field: pronouns, time, dative, accusative, nicht, phrases, predicate/place.
    time = cl.time[0].split() if cl.time and not front else []
    mf = [w for o, c in objects if o is not None and o.kind == "pron" for w in o.de(c)]
    mf += time + ([cl.freq[0]] if cl.freq else [])
    mf += [w for o, c in reversed(objects) if o is not None and o.kind != "pron"
           for w in o.de(c, kein and c == "acc")]
    mf += ["nicht"] * (cl.neg and not kein) + [w for de, _ in cl.comps for w in de]
    mf += (cl.pred[0] if cl.pred else []) + (cl.place[0] if cl.place else [])
    # English: objects (dative first), predicate, place, phrases, time at the end.
    tail = [w for o, _ in reversed(objects) if o is not None for w in o.en("acc")]
    tail += (cl.pred[1] if cl.pred else []) + (cl.place[1] if cl.place else [])
    tail += [w for _, en in cl.comps for w in en] + (cl.time[1].split() if time else [])
    subj_de, subj_en = cl.subj.de("nom"), cl.subj.en("nom")
    pre, post = _en_vp(cl, form == "q")
    if form == "sub":
        end = [rest[0] + finite] if rest and cl.mode in ("pres", "fut") else rest + [finite]
        return subj_de + mf + end, subj_en + post + tail
    if form == "q":
        return lead[0] + [finite] + subj_de + mf + rest, lead[1] + pre + subj_en + post + tail
    if front:
        return (cl.time[0].split() + [finite] + subj_de + mf + rest,
                cl.time[1].split() + subj_en + post + tail)
    return subj_de + [finite] + mf + rest, subj_en + post + tail


def _phrase(prep_de: str, case: str, prep_en: str, np: NP) -> tuple[list[str], list[str]]:
    return _pp(prep_de, np.de(case)), [prep_en] + np.en("acc")


def _lexical(rng: random.Random, subj: NP | None = None) -> Clause:
    """A clause with a full verb, its objects or place, and maybe a with/for/from phrase."""
    v = rng.choice(_VERBS)
    subj = subj or _person(rng, None, 0.4, "animal" in v.tags, lex.PRONOUNS)
    mode = rng.choices(("pres", "perf", "can", "want", "must"), (5, 3, 1, 1, 1))[0]
    if (mode == "perf" and not v.part) or (mode in _MODALS and "nomodal" in v.tags):
        mode = "pres"
    cl = Clause(subj, mode, v)
    if v.frame in ("acc", "ditr"):
        person = "person" in v.args and rng.random() < 0.4
        cl.acc = _person(rng, subj, pron_p=0.3) if person else _np(rng, rng.choice(_ARGS[v]))
    if v.frame in ("dat", "ditr"):
        cl.dat = _person(rng, subj, pron_p=0.3)
    if v.frame in ("loc", "dir", "orig"):
        bei = "bei" in v.tags and rng.random() < 0.2  # "bei seinen Eltern wohnen"
        cl.place = _phrase("bei", "dat", "with", _person(rng, subj, 0.1)) if bei else \
            _place(rng, v.frame, v.args)
    elif v.at and rng.random() < 0.25:
        cl.place, cl.optional_place = _place(rng, "loc", {v.at}), True
    for tag, prep, case, en in lex.PHRASES:
        if tag in v.tags and rng.random() < 0.25:
            cl.comps.append(_phrase(prep, case, en, _person(rng, subj, animals=tag == "with")))
            break
    return cl


def _copula(rng, subj: NP | None = None, weather: bool = False, feel: bool = False) -> Clause:
    """'X ist (sehr) ADJ' for people, animals, things, food, places and the weather;
    ``feel``: how someone feels, a reason to act ("weil er müde ist")."""
    if weather:
        subj, adjs = (_ES if rng.random() < 0.6 else NP("def", _WETTER)), _WEATHER_ADJS
    else:
        if subj is None and not feel and rng.random() < 0.55:
            subj = _np(rng, rng.choice(_DESCRIBED), adj_p=0)
        subj = subj or _person(rng, None, 0.4, not feel, lex.PRONOUNS)
        adjs = _NOUN_ADJS[subj.noun] if subj.noun else _PERSON_ADJS
        adjs = [a for a in adjs if "feel" in a.tags] if feel else adjs
    adj, kind = rng.choice(adjs), "weather" if weather else "adj"
    cl = Clause(subj, rng.choices(("be", "be_past"), (3, 2))[0], kind=kind)
    cl.timeless = "state" not in adj.tags and kind != "weather"
    very = [rng.choice(lex.INTENSIFIERS)] if rng.random() < 0.35 else []  # sehr, zu, ziemlich
    cl.pred = ([w[0] for w in very] + [adj.de], [w[1] for w in very] + [adj.en])
    return cl


def _located(rng: random.Random, subj: NP | None = None) -> Clause:
    """'X ist im Park / auf dem Tisch / in Berlin'."""
    if subj is None and rng.random() < 0.35:
        subj = _np(rng, rng.choice(_LOCATED), adj_p=0.2)
    subj = subj or _person(rng, None, 0.4, True, lex.PRONOUNS)
    tags = subj.noun.tags if subj.noun else {"person"}
    kind = "person" if "person" in tags else "animal" if "animal" in tags else "thing"
    cl = Clause(subj, rng.choices(("be", "be_past"), (3, 2))[0], kind="loc")
    cl.place = _place(rng, "loc", _PLACES_OF[kind])
    return cl


def _clause(rng: random.Random, subj: NP | None = None, reason: bool = False) -> Clause:
    """Any clause (``reason``: the weather or how someone feels), maybe with a time adverb."""
    r = rng.random()
    if reason:
        cl = _copula(rng, subj, weather=r < 0.35, feel=True)
    elif r < 0.72:
        cl = _lexical(rng, subj)
    elif r < 0.86 or (subj is not None and r < 0.95):
        cl = _copula(rng, subj)
    elif r < 0.95:
        cl = _copula(rng, weather=True)
    else:
        cl = _located(rng, subj)
    if not cl.timeless and rng.random() < 0.35:
        cl.time = rng.choice(_TIMES["modal" if cl.mode in _MODALS else cl.mode])
        if cl.time[2] == "fut":  # German present + future adverb = English "will"
            cl.mode = {"pres": "fut", "be": "be_fut"}.get(cl.mode, cl.mode)
    return cl


def _negate(cl: Clause) -> None:
    """Negate with "kein" (indefinite object) or "nicht"; English uses do-support/not."""
    cl.neg = True
    if cl.pred and cl.pred[0][0] == "ziemlich":  # "nicht ziemlich müde" is not German
        cl.pred = (cl.pred[0][1:], cl.pred[1][1:])
    # "nicht drei Äpfel", "nicht einem Kind", "keine Tante anrufen" sound contrastive or odd
    for o in (cl.acc, cl.dat):
        if o is not None and o.noun and (o.kind == "num" or (o.kind in ("indef", "bare") and (
                o is cl.dat or "person" in o.noun.tags))):
            o.kind = "def"
    if not (cl.acc is not None and cl.acc.kind in ("indef", "bare")):
        cl.comps = []  # "nicht für seine Mutter" would negate the phrase, not the sentence
        cl.place = None if cl.optional_place else cl.place


def _statement(rng: random.Random, subj: NP | None = None, reason: bool = False) -> Clause:
    cl = _clause(rng, subj, reason)
    if rng.random() < 0.22:
        _negate(cl)
    elif not (cl.time or cl.timeless) and cl.mode in ("pres", "be") and rng.random() < 0.15:
        cl.freq = rng.choice(lex.FREQUENCY)
    cl.front = cl.time is not None and rng.random() < 0.45
    return cl


def _wh(rng: random.Random, cl: Clause, subject_ok: bool = True) -> tuple[list, list]:
    """Turn ``cl`` into a W-question: drop the questioned part, return the question word."""
    acc, frame = cl.acc, cl.verb.frame if cl.verb else cl.kind
    options = ["warum"] + ["wann"] * (cl.verb is not None and cl.time is None)
    if subject_ok and cl.kind != "weather" and (
            cl.subj.noun is None or cl.subj.noun.tags & {"person", "animal"}):
        options.append("wer")
    if acc is not None:
        options.append("wen" if acc.forms or "person" in acc.noun.tags else "was")
    options += {"dat": ["wem"], "dir": ["wohin"]}.get(frame, [])
    if cl.place and (frame == "loc" or cl.optional_place) and cl.place[1][0] != "with":
        options.append("wo")
    wh = rng.choice(options)
    english, slot = lex.WH_WORDS[wh]
    if slot:
        setattr(cl, slot, _WHO if slot == "subj" else None)
    return [wh], [english]


class DemoPair(NamedTuple):
    """One generated pair and how it was built (the tests check grammar with these fields)."""

    de: str
    en: str
    form: str  # statement / question / wh / weil / dass / vocative
    mode: str  # tense of the last clause: pres fut perf can want must be be_past be_fut
    neg: bool  # some clause is negated


def _text(tokens: list[str], end: str) -> str:
    s = " ".join(tokens).replace(" ,", ",") + end
    return s[0].upper() + s[1:]


def _sample(rng: random.Random) -> DemoPair | None:
    """One random sentence pair, or None when the draw is rejected."""
    r, voc, subj, main = rng.random(), ([], []), None, None
    if r < 0.36:
        form, cl = "statement", _statement(rng)
        de, en = _realize(cl, "decl")
    elif r < 0.64 or r >= 0.88:
        form = "question" if r < 0.5 else "wh" if r < 0.64 else "vocative"
        if form == "vocative":  # "Herr Weber, haben Sie ...?", "Anna, kannst du ...?"
            if rng.random() < 0.5:
                title, name = rng.choice(lex.TITLES), rng.choice(lex.SURNAMES)
                voc, subj = ([title[0], name, ","], [title[1], name, ","]), _pron(lex.FORMAL)
            else:
                name = rng.choice(lex.NAMES)
                voc, subj = ([name, ","], [name, ","]), _pron(lex.PRONOUNS[1])
        cl = _clause(rng, subj)
        ask = form == "wh" or (form == "vocative" and rng.random() < 0.4)
        lead = _wh(rng, cl, subject_ok=subj is None) if ask else ([], [])
        de, en = _realize(cl, "decl") if cl.subj is _WHO else _realize(cl, "q", lead)
        de, en = voc[0] + de, voc[1] + en
    else:
        form = "weil" if r < 0.76 else "dass"
        main = _statement(rng) if form == "weil" else Clause(
            _person(rng, None, 0.4, rows=lex.PRONOUNS), "pres", rng.choice(_INTRO))
        if main.verb is None:
            return None  # "Es war kalt, weil ..." rarely makes sense; a reason needs an action
        reason = form == "weil" and rng.random() < 0.6
        same = main.subj if reason and main.subj.kind == "pron" else None  # weil sie müde war
        cl = _statement(rng, same, reason)
        if reason:  # the reason holds when the action happens
            cl.time, cl.mode = None, "be_past" if main.mode == "perf" else "be"
        elif main.time is not None or main.mode == "perf":  # keep the two tenses coherent
            cl.time, cl.mode = None, {"fut": "pres", "be_fut": "be"}.get(cl.mode, cl.mode)
        (de, en), (sub_de, sub_en) = _realize(main, "decl"), _realize(cl, "sub")
        de, en = de + [",", form] + sub_de, en + ["because" if form == "weil" else "that"] + sub_en
    if subj is not None and subj.forms[0] == "Sie" and set(de) & _DU_FORMS:
        return None  # "Herr Weber, haben Sie deine ..." mixes formal and informal address
    end = "." if form in ("statement", "weil", "dass") else "?"
    neg = cl.neg or (main is not None and main.neg)
    return DemoPair(_text(de, end), _text(en, end), form, cl.mode, neg)


def _words(text: str) -> set[str]:
    return set(text.replace(",", " ").replace(".", " ").replace("?", " ").split())


def _records(n: int, rng: random.Random, exclude=frozenset(), vocab=None) -> list[DemoPair]:
    """``n`` pairs with distinct German sides, none in ``exclude``; all words in ``vocab``."""
    out, seen = [], set(exclude)
    for _ in range(100 * n + 1000):
        if len(out) == n:
            break
        rec = _sample(rng)
        if rec is None or rec.de in seen or not all(
                MIN_WORDS <= len(s.split()) <= MAX_WORDS for s in rec[:2]):
            continue
        if vocab is None or _words(rec.de + " " + rec.en) <= vocab:
            seen.add(rec.de)
            out.append(rec)
    if len(out) < n:
        raise ValueError(f"the demo grammar could not produce {n} distinct pairs")
    return out


def generate_records(n: int, seed: int) -> list[DemoPair]:
    """``n`` distinct pairs with how each was built; deterministic for ``seed``."""
    return _records(n, random.Random(seed))


def generate_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct (German, English) pairs; deterministic for ``seed``."""
    return [(r.de, r.en) for r in generate_records(n, seed)]


def generate_demo_corpus(seed: int = 1234, sizes: dict[str, int] | None = None
                         ) -> dict[str, list[tuple[str, str]]]:
    """Train/valid/test splits. Held-out German never occurs in train or in the other held-out
    split, and every held-out word occurs in train, so the task is learnable."""
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    corpus = {"train": generate_pairs(sizes["train"], seed)}
    seen = {de for de, _ in corpus["train"]}
    vocab = set().union(*(_words(de + " " + en) for de, en in corpus["train"])) or None
    rng = random.Random(f"bertune-demo-heldout-{seed}")  # str seeds are hashed stably (sha512)
    for split in ("valid", "test"):
        corpus[split] = [(r.de, r.en) for r in _records(sizes[split], rng, seen, vocab)]
        seen.update(de for de, _ in corpus[split])
    return corpus
