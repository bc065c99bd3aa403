"""The embedded German→English demo corpus: deterministic, disjoint, learnable, grammatical."""
from __future__ import annotations

import time
from collections import Counter, defaultdict

import pytest

from bertune_cli.core.data import demo
from bertune_cli.core.data import demo_lexicon as lex

POSS = [p for p, _ in lex.POSSESSIVES]
NUMBERS = {de for de, _ in lex.NUMBERS}
NAMES = set(lex.NAMES)
PARTICIPLES = {v[2] for v in lex.VERBS if v[2]}
INFINITIVES = {v[0].replace("|", "") for v in lex.VERBS}
PARADIGMS = {k: set(v.split()) for k, v in lex.PARADIGMS.items()}
PERFECT_AUX = PARADIGMS["haben"] | PARADIGMS["sein"]
MODAL_FORMS = PARADIGMS["können"] | PARADIGMS["wollen"] | PARADIGMS["müssen"]
DATIVE_START = ({"dem", "der", "den", "einem", "einer", "mir", "dir", "ihm", "uns", "euch"}
                | {p + e for p in POSS for e in ("em", "er", "en")} | NAMES | NUMBERS)
ACCUSATIVE_START = ({"den", "die", "das", "einen", "eine", "ein", "mich", "dich", "ihn", "uns",
                     "euch"} | {p + e for p in POSS for e in ("", "e", "en")} | NAMES | NUMBERS)
ENGLISH = [v[4].split("/") for v in lex.VERBS] + [(*v[1].split("/"), "") for v in lex.INTRO_VERBS]
ENGLISH_3S = {e[1].split()[0] for e in ENGLISH}
ENGLISH_PAST = {e[2].split()[0] for e in ENGLISH if e[2]}
ENGLISH_BASE = {e[0].split()[0] for e in ENGLISH} - ENGLISH_3S - ENGLISH_PAST


def _tokens(text: str) -> list[str]:
    return text.replace(",", " ,").rstrip(".?").split()


@pytest.fixture(scope="module")
def corpus():
    start = time.process_time()
    result = demo.generate_demo_corpus()
    return result, time.process_time() - start


@pytest.fixture(scope="module")
def records():
    return demo.generate_records(4000, seed=11)


def test_default_corpus_has_the_default_sizes_and_is_fast(corpus):
    splits, seconds = corpus
    assert demo.DEFAULT_SIZES == {"train": 20000, "valid": 500, "test": 500}
    assert {k: len(v) for k, v in splits.items()} == demo.DEFAULT_SIZES
    assert seconds < 3.0


def test_custom_sizes_are_honoured():
    splits = demo.generate_demo_corpus(seed=3, sizes={"train": 1500, "valid": 40, "test": 60})
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [1500, 40, 60]


def test_deterministic_for_a_seed_and_different_for_another():
    assert demo.generate_pairs(300, 7) == demo.generate_pairs(300, 7)
    assert demo.generate_pairs(300, 7) != demo.generate_pairs(300, 8)
    sizes = {"train": 800, "valid": 50, "test": 50}
    assert demo.generate_demo_corpus(5, sizes) == demo.generate_demo_corpus(5, sizes)
    assert demo.generate_demo_corpus(5, sizes)["test"] != demo.generate_demo_corpus(6, sizes)[
        "test"]
    # the train split of a corpus is generate_pairs for the same seed
    assert demo.generate_demo_corpus(5, sizes)["train"] == demo.generate_pairs(800, 5)


def test_pairs_are_string_tuples(corpus):
    for split in corpus[0].values():
        assert all(isinstance(de, str) and isinstance(en, str) for de, en in split)


def test_splits_are_disjoint_and_free_of_duplicates(corpus):
    splits = corpus[0]
    train_de = {de for de, _ in splits["train"]}
    valid_de, test_de = {de for de, _ in splits["valid"]}, {de for de, _ in splits["test"]}
    assert not valid_de & train_de and not test_de & train_de and not valid_de & test_de
    for pairs in splits.values():
        assert len(set(pairs)) == len(pairs)
        assert len({de for de, _ in pairs}) == len(pairs)


def test_every_held_out_word_occurs_in_train(corpus):
    splits = corpus[0]
    seen_de = {w for de, _ in splits["train"] for w in _tokens(de)}
    seen_en = {w for _, en in splits["train"] for w in _tokens(en)}
    for split in ("valid", "test"):
        assert {w for de, _ in splits[split] for w in _tokens(de)} <= seen_de
        assert {w for _, en in splits[split] for w in _tokens(en)} <= seen_en


def test_vocabulary_is_rich_but_small(corpus):
    train = corpus[0]["train"]
    de_types = {w.lower() for de, _ in train for w in _tokens(de)}
    en_types = {w.lower() for _, en in train for w in _tokens(en)}
    assert 600 < len(de_types) < 3000 and 400 < len(en_types) < 2000


def test_a_german_sentence_has_exactly_one_translation():
    translations = defaultdict(set)
    for seed in (1, 2, 3):
        for de, en in demo.generate_pairs(3000, seed):
            translations[de.lower()].add(en)
    assert all(len(ens) == 1 for ens in translations.values())


def test_lengths_capitalisation_and_punctuation(corpus):
    for de, en in corpus[0]["test"] + corpus[0]["train"][:3000]:
        for text in (de, en):
            assert demo.MIN_WORDS <= len(text.split()) <= demo.MAX_WORDS
            assert text[0].isupper() and text[-1] in ".?" and text[-2].isalnum()
            assert "  " not in text and " ," not in text and text.count(".") + text.count("?") == 1
        assert de[-1] == en[-1]


def test_german_capitalises_exactly_nouns_names_and_formal_sie(records):
    nouns = {n[i] for n in lex.NOUNS for i in (0, 1) if n[i]} | {n[6] for n in lex.NOUNS
                                                                     if len(n) > 6}
    nouns |= {n[1] + "n" for n in lex.NOUNS if n[1]} | {p[0] for p in lex.PLACES} | {"Hause"}
    nouns |= {w for t in lex.TIMES for w in t[0].split() if w[0].isupper()}
    capitalised = nouns | NAMES | set(lex.SURNAMES) | {c for c, _ in lex.CITIES} | {
        "Sie", "Herr", "Frau", "E-Mail", "E-Mails"}
    adjectives = {(stem or de.removesuffix("e")) + end for de, stem, *_ in lex.ADJECTIVES
                  for end in ("e", "en", "er", "es", "em")}
    adverbs = {w for t in lex.TIMES for w in t[0].split()}  # "morgen" and "am Morgen"
    lowered = {n.lower() for n in nouns} - adjectives - adverbs  # "jungen" is an adjective too
    for rec in records:
        words = _tokens(rec.de)[1:]
        assert {w for w in words if w[0].isupper()} <= capitalised, rec.de
        assert not {w for w in words if w[0].islower()} & lowered, rec.de
        if "Sie" in words:  # formal address only to someone addressed by title
            assert rec.form == "vocative" and rec.de.split()[0] in ("Herr", "Frau")


def test_sentence_shapes_and_tenses_all_occur(records):
    assert set(Counter(r.form for r in records)) == {
        "statement", "question", "wh", "weil", "dass", "vocative"}
    assert set(Counter(r.mode for r in records)) == {
        "pres", "fut", "perf", "can", "want", "must", "be", "be_past", "be_fut"}
    assert 0.1 < sum(r.neg for r in records) / len(records) < 0.3


def test_verb_group_closes_the_german_clause(records):
    checked = Counter()
    for rec in records:
        words = [w.lower() for w in _tokens(rec.de)]
        if rec.form in ("weil", "dass"):  # subordinate clause: finite verb last
            if rec.mode == "perf":
                assert words[-1] in PERFECT_AUX and words[-2] in PARTICIPLES, rec.de
            elif rec.mode in ("can", "want", "must"):
                assert words[-1] in MODAL_FORMS and words[-2] in INFINITIVES, rec.de
            elif rec.mode.startswith("be"):
                assert words[-1] in PARADIGMS["sein"] | PARADIGMS["war"], rec.de
            checked["sub"] += 1
        elif rec.mode == "perf":  # participle at the end of the sentence bracket
            assert words[-1] in PARTICIPLES and set(words) & PERFECT_AUX, rec.de
            checked["perf"] += 1
        elif rec.mode in ("can", "want", "must"):
            assert words[-1] in INFINITIVES and set(words) & MODAL_FORMS, rec.de
            checked["modal"] += 1
    assert min(checked.values()) > 100


def test_prepositions_govern_their_case(records):
    checked = Counter()
    for rec in records:
        words = _tokens(rec.de)
        for prep, following in zip(words, words[1:]):
            if prep in ("mit", "von", "bei"):
                assert following in DATIVE_START, rec.de
            elif prep in ("für", "ohne"):
                assert following in ACCUSATIVE_START, rec.de
            elif prep in ("im", "am", "vom", "beim", "zum", "zur", "ins", "ans"):
                # contracted article + weak adjective (-en dative, -e accusative) or noun
                assert following[0].isupper() or following.endswith("e" if prep in (
                    "ins", "ans") else "en"), rec.de
            else:
                continue
            checked[prep] += 1
        for phrase in ("in dem", "an dem", "zu dem", "zu der", "von dem", "in das", "bei dem"):
            assert f" {phrase} " not in rec.de, rec.de  # a native speaker contracts these
    assert all(checked[p] > 10 for p in ("mit", "für", "ohne", "bei", "im", "am", "ins"))
    assert all(checked[p] > 0 for p in ("von", "zum", "zur", "vom"))


def test_dative_plural_nouns_take_n(records):
    dative_plural = {"den"} | {p + "en" for p in POSS}
    plurals = {n[1] for n in lex.NOUNS if n[1]}
    for rec in records:
        words = _tokens(rec.de)
        for prep, det, *rest in zip(words, words[1:], words[2:], words[3:]):
            if prep in ("mit", "von", "bei") and det in dative_plural:
                noun = next(w for w in [*rest] if w[0].isupper())
                assert noun.endswith(("n", "s")) and noun not in plurals - {
                    p for p in plurals if p.endswith(("n", "s"))}, rec.de


def test_pronoun_subjects_agree_with_the_verb(records):
    endings = {"Ich": lambda v: v.endswith("e") or v in {"bin", "kann", "will", "muss", "weiß",
                                                         "mag", "war"},
               "Du": lambda v: v.endswith(("st", "ßt")),
               "Wir": lambda v: v.endswith("en") or v == "sind",
               "Ihr": lambda v: v.endswith("t") or v == "seid",
               "Er": lambda v: v.endswith("t") or v in {"kann", "will", "muss", "weiß", "mag",
                                                        "war"}}
    checked = Counter()
    for rec in records:
        words = _tokens(rec.de)
        if rec.form in ("statement", "weil", "dass") and words[0] in endings:
            assert endings[words[0]](words[1]), rec.de
            checked[words[0]] += 1
    assert set(checked) == set(endings) and min(checked.values()) > 20


def test_english_agreement_and_do_support(records):
    aux = {"will", "can", "cannot", "did", "does", "was", "is", "has", "wants", "often",
           "always", "sometimes"}
    checked = Counter()
    for rec in records:
        words = rec.en.rstrip(".?").split()
        if words[0] in ("He", "She") and words[1] not in aux:
            assert words[1] in ENGLISH_3S | ENGLISH_PAST, rec.en  # third person -s or past
            checked["3s"] += 1
        if words[0] in ("I", "We", "They", "You"):
            assert words[1] not in ENGLISH_3S | {"is", "does", "has"}, rec.en
            assert words[0] == "I" or words[1] != "was", rec.en
            checked["other"] += 1
        if words[0] in ("He", "She"):
            assert words[1] not in ENGLISH_BASE | {"do", "are", "were", "have"}, rec.en
        if rec.form == "question":
            assert words[0] in {"Do", "Does", "Did", "Can", "Will", "Is", "Are", "Am", "Was",
                                "Were"}, rec.en
            checked["question"] += 1
        if rec.neg:
            assert "not" in words or "cannot" in words, rec.en
        german = set(_tokens(rec.de))
        negated = "nicht" in german or any(w.startswith("kein") for w in german)
        assert negated == rec.neg == bool({"not", "cannot"} & set(words)), (rec.de, rec.en)
    assert min(checked.values()) > 100


def test_questions_put_the_verb_or_question_word_first(records):
    articles = {"der", "die", "das", "ein", "eine", "ich", "du", "er", "sie", "wir", "ihr"}
    for rec in records:
        de, en = rec.de.split(), rec.en.split()
        if rec.form == "question":
            assert de[0].lower() not in articles and de[1].lower() not in {"hat", "ist"}, rec.de
        if rec.form == "wh":
            english = lex.WH_WORDS[de[0].lower()][0]
            assert en[0] == english.capitalize(), (rec.de, rec.en)
        assert (rec.form in ("question", "wh", "vocative")) == rec.de.endswith("?")


def test_english_articles_a_and_an(records):
    counts = Counter()
    for rec in records:
        words = rec.en.lower().rstrip(".?").split()
        for article, following in zip(words, words[1:]):
            if article in ("a", "an"):
                assert (article == "an") == (following[0] in "aeiou"), rec.en
                counts[article] += 1
    assert counts["a"] > 100 and counts["an"] > 20


def test_time_adverbs_fit_the_tense(records):
    past = {t[0] for t in lex.TIMES if t[2] == "past"}
    future = {t[0] for t in lex.TIMES if t[2] == "fut"}
    for rec in records:
        lowered = rec.de.lower()
        if any(f" {t} " in f" {lowered[:-1]} " for t in past):
            assert rec.mode in ("perf", "be_past") or rec.form in ("weil", "dass"), rec.de
        if any(f" {t} " in f" {lowered[:-1]} " for t in future) and rec.mode in ("fut", "be_fut"):
            assert " will " in f" {rec.en.lower()} ", rec.en


def test_numbers_two_to_twelve_take_plural_nouns(records):
    english_numbers = {en for _, en in lex.NUMBERS}
    plurals = {n[4] for n in lex.NOUNS if n[4]}
    seen = set()
    for rec in records:
        words = rec.en.rstrip(".?").split()
        for i, w in enumerate(words[:-1]):
            if w in english_numbers:
                seen.add(w)
                assert words[i + 1] in plurals or " ".join(words[i + 1:i + 3]) in plurals or (
                    " ".join(words[i + 2:i + 4]) in plurals or words[i + 2] in plurals), rec.en
    assert seen == english_numbers
