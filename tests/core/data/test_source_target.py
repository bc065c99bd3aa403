"""SourceEncoder (Moses -> lowercase -> BPE) and TargetCodec (the LM's WordPiece, ids = LM ids)."""
from __future__ import annotations

import json
import unicodedata

import pytest

from bertune_cli.core.data.source import SourceEncoder, moses_tokenize
from bertune_cli.core.data.target import TargetCodec
from bertune_cli.core.errors import CheckpointError, ConfigError, LMUnavailable

GERMAN = ["Das ist ein kleines Haus.", "Ich sehe den großen Hund!", "Wir gehen heute nach Hause.",
          "Der Himmel ist blau, und die Sonne scheint.", "Sie liest ein Buch über Häuser."] * 20

# Typical (lowercased) English: clitics, hyphenated words, numbers, quotes, brackets,
# abbreviations, punctuation runs. decode(encode(x)) must give x back.
ENGLISH = [
    "a man in a blue shirt is standing on a ladder cleaning windows.",
    "two young, white males are outside near many bushes.",
    "it's a well-known fact that the dog isn't here, and we're sure you'll agree.",
    "i'd say they've been there since 9:30 this morning; didn't you see them?",
    "the price rose from 3.5 to 6,000 dollars in 2010 -- nobody knows why.",
    'she said, "we can do it!" and everybody laughed.',
    "the u.s. team (the one in red) won 3-2 after extra time.",
    "a three-year-old girl wears a t-shirt and plays with a yo-yo...",
    "what's the point of counting stamens at nine o'clock?",
    "he paid 50% more for the rock-and-roll tickets.",
]


@pytest.fixture(scope="module")
def encoder():
    return SourceEncoder.train(GERMAN, "de", lowercase=True, vocab_size=120)


@pytest.fixture(scope="module")
def codec(minilm_tokenizer):
    return TargetCodec(minilm_tokenizer, "en", "minilm")


# ----------------------------------------------------------------------------- source


def test_moses_tokenization_without_escaping():
    assert moses_tokenize(["Das ist's, \"gut\" & schön."], "de") == [
        'Das ist \' s , " gut " & schön .']
    assert moses_tokenize(["It's 5 o'clock & <b>."], "en") == ["It 's 5 o 'clock & < b > ."]


def test_source_ids_end_with_eos_and_specials_are_fixed(encoder):
    assert (encoder.pad_id, encoder.unk_id, encoder.eos_id) == (0, 1, 2)
    assert [encoder.tokenizer.id_to_token(i) for i in range(3)] == ["<pad>", "<unk>", "</s>"]
    ids = encoder.encode(["Das ist ein Haus.", ""])
    assert ids[0][-1] == 2 and ids[1] == [2]
    assert 0 not in ids[0] and all(0 <= i < encoder.vocab_size for i in ids[0])
    assert encoder.vocab_size <= 120


def test_lowercasing_and_unknown_characters(encoder):
    assert encoder.encode(["DAS IST EIN HAUS."]) == encoder.encode(["das ist ein haus."])
    assert encoder.unk_id in encoder.encode(["Ж"])[0]
    cased = SourceEncoder.train(GERMAN, "de", lowercase=False, vocab_size=120)
    assert cased.encode(["DAS"]) != cased.encode(["das"])


def test_max_len_truncates_but_keeps_eos(encoder):
    ids = encoder.encode(["Der Himmel ist blau, und die Sonne scheint."], max_len=5)[0]
    assert len(ids) == 5 and ids[-1] == encoder.eos_id


def test_training_is_deterministic(encoder):
    for _ in range(3):  # ties between merges must not be broken in hash order
        again = SourceEncoder.train(GERMAN, "de", lowercase=True, vocab_size=120)
        assert again.tokenizer.to_str() == encoder.tokenizer.to_str()


def test_save_load_round_trip(encoder, tmp_path):
    encoder.save(tmp_path)
    settings = json.loads((tmp_path / "source.json").read_text())
    assert settings["lang"] == "de" and settings["lowercase"] is True
    loaded = SourceEncoder.load(tmp_path)
    assert loaded.encode(GERMAN[:5]) == encoder.encode(GERMAN[:5])
    assert loaded.vocab_size == encoder.vocab_size
    with pytest.raises(CheckpointError, match="src_tokenizer.json"):
        SourceEncoder.load(tmp_path / "nowhere")


def test_vocab_size_must_leave_room_for_pieces():
    with pytest.raises(ConfigError, match="bpe_vocab=3"):
        SourceEncoder.train(GERMAN, "de", True, 3)


# ----------------------------------------------------------------------------- target


def test_target_ids_are_the_lms_with_cls_and_sep(codec, minilm_tokenizer):
    lines = ["A man rides a bike.", "Two dogs play in the snow."]
    ids = codec.encode(lines)
    assert ids == [minilm_tokenizer(s)["input_ids"] for s in lines]
    assert all(s[0] == codec.cls_id == 101 and s[-1] == codec.sep_id == 102 for s in ids)


def test_target_is_not_truncated_or_padded_by_the_lm_settings(codec):
    long = " ".join(["word"] * 300)  # the bundled MiniLM tokenizer truncates/pads at 128
    assert len(codec.encode([long])[0]) == 302
    assert len(codec.encode([long], max_len=10)[0]) == 10
    assert codec.encode([long], max_len=10)[0][-1] == codec.sep_id


def test_decode_round_trips_typical_english(codec):
    assert codec.decode(codec.encode(ENGLISH)) == ENGLISH


def test_decode_round_trips_cased_text_up_to_the_lms_normalisation(codec):
    text = ["Zoë and José visit the Café Müller in São Paulo."]

    def uncased(s):  # what an uncased BERT does: lowercase + strip accents
        return "".join(c for c in unicodedata.normalize("NFD", s.lower())
                       if unicodedata.category(c) != "Mn")
    assert codec.decode(codec.encode(text)) == [uncased(text[0])]


def test_decode_drops_specials_and_stops_at_the_first_sep(codec):
    cls, sep, pad = codec.cls_id, codec.sep_id, codec.pad_id
    ids = codec.encode(["the dog runs."])[0]
    assert codec.decode([ids + [pad, pad]]) == ["the dog runs."]
    assert codec.decode([ids[1:]]) == ["the dog runs."]  # generated ids, no [CLS]
    assert codec.decode([ids[:-1] + [sep] + codec.encode(["junk"])[0][1:]]) == ["the dog runs."]
    assert codec.decode([[cls, sep], [], [pad]]) == ["", "", ""]
    assert codec.decode([ids, ids]) == codec.decode([ids, ids])  # deterministic, batched


def test_tokenizer_without_cls_sep_is_not_wordpiece_compatible(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1, "a": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                            pad_token="[PAD]").save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(LMUnavailable, match=r"not WordPiece-compatible: it has no \[CLS\], \[SEP\]"):
        TargetCodec.from_lm(str(tmp_path), "en")


# ----------------------------------------------------------------------------- speed paths


TRICKY = ["", "   ", "plain words here .", "tab\tand\u00a0nbsp and\u3000ideographic space",
          "control\x1cchar and \x1fmore", "中文字符 and 日本語 mixed", "Ünïcödé àccents ÇA",
          "x" * 150 + " long word", "emoji 🙂 and symbols ©®™", "a\u2028b\u2029c",
          "isn't it -- well, 3.5%?", "double  spaces   here"]


def test_word_cache_gives_exactly_the_batch_encoders_ids(codec, encoder):
    from bertune_cli.core.data import tokenization

    assert codec._by_words and encoder._by_words
    for lines in (TRICKY, [t for t in TRICKY if "\x1c" not in t]):  # regex split / str.split
        batch = [e.ids for e in codec._rust.encode_batch(lines, add_special_tokens=True)]
        assert codec.encode(lines) == batch
    tokenized = moses_tokenize(TRICKY + GERMAN[:5], "de")
    batch = [e.ids for e in encoder.tokenizer.encode_batch(tokenized)]
    assert encoder.encode_tokenized(tokenized) == batch
    assert tokenization.encode_words(codec._rust, [], [1], [2]) == []


def test_word_cache_is_refused_for_pipelines_it_cannot_reproduce():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from bertune_cli.core.data.tokenization import word_decomposable

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    assert not word_decomposable(tok)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    assert not word_decomposable(tok)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Digits()])
    assert word_decomposable(tok)
    tok.normalizer = normalizers.Replace(" ", "_")
    assert not word_decomposable(tok)


def test_parallel_moses_equals_sequential(monkeypatch):
    from bertune_cli.core.data import tokenization

    lines = [f"{GERMAN[i % len(GERMAN)]} Nr. {i}, z.B. \"so\"." for i in range(900)]
    english = [f"It's item {i} (of 900)." for i in range(900)]
    sequential = [moses_tokenize(lines, "de"), moses_tokenize(english, "en")]
    monkeypatch.setattr(tokenization, "CHUNK_LINES", 100)
    monkeypatch.setattr(tokenization, "PARALLEL_FROM", 0)
    seen = []
    parallel = tokenization.moses_tokenize_many(
        [("de", lines, "de"), ("en", english, "en")], workers=2,
        progress=lambda step, done, total: seen.append((step, done, total)))
    assert parallel == sequential
    assert ("de", 900, 900) in seen and ("en", 900, 900) in seen
