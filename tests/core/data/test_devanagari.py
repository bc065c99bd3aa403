"""Hindi source text (the hi-en recipe) survives the source pipeline untouched: Moses
tokenization only inserts spaces (around punctuation such as the danda), and BPE encodes
every word without <unk> and decodes back to the Moses output, character for character —
conjuncts with virama, nukta (precomposed and combining), candrabindu, anusvara, visarga,
Devanagari digits, danda and double danda. Sentences written for this test."""
from __future__ import annotations

import pytest

from bertune_cli.core.data.source import SourceEncoder
from bertune_cli.core.data.tokenization import moses_tokenize

HINDI = [
    "भारत एक विशाल देश है।",
    "क्षत्रिय राजा ने ज्ञान की खोज में लम्बी यात्रा की॥",
    'उसने कहा, "मैं कल दिल्ली जाऊँगा।"',
    "\u095bमीन पर \u095eूल गिरे हैं।",                 # precomposed nukta letters ज़ फ़
    "ज\u093cमीन पर फ\u093cूल गिरे हैं।",            # the same with a combining nukta (U+093C)
    "दुःख और सुख जीवन के अंग हैं।",
    "सन् १९४७ में भारत स्वतंत्र हुआ।",
    "डॉक्टर ने दवाई दी - दिन में दो बार।",
    "राजनीतिज्ञों के पास जो कार्य करना चाहिए, वह करने कि अनुमति नहीं है।",
]


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def encoder():
    return SourceEncoder.train(HINDI * 2, "hi", lowercase=False, vocab_size=400)


def test_moses_only_inserts_spaces_and_splits_off_the_danda():
    tokenized = moses_tokenize(HINDI, "hi")
    assert [_squash(t) for t in tokenized] == [_squash(s) for s in HINDI]
    assert tokenized[0] == "भारत एक विशाल देश है ।"
    assert tokenized[1].endswith("यात्रा की ॥")
    assert "दुःख" in tokenized[5].split() and "१९४७" in tokenized[6].split()


def test_bpe_round_trip_is_exact_and_has_no_unknown_pieces(encoder):
    tokenized = moses_tokenize(HINDI, "hi")
    for line, moses, ids in zip(HINDI, tokenized, encoder.encode(HINDI)):
        assert encoder.unk_id not in ids, line
        assert encoder.tokenizer.decode(ids, skip_special_tokens=True) == moses
    # no normalisation: the two nukta spellings stay different byte sequences
    a, b = (encoder.tokenizer.decode(i, skip_special_tokens=True)
            for i in encoder.encode(HINDI[3:5]))
    assert a != b and a.startswith("\u095bमीन") and b.startswith("ज\u093cमीन")


def test_zero_width_joiners_stay_inside_their_word():
    line = "क्\u200dष और क्\u200cष"
    assert moses_tokenize([line], "hi")[0] == line
    # punctuation next to the word is still split off; lines without a joiner are unchanged
    assert moses_tokenize(["(क्\u200dष)।"], "hi")[0] == "( क्\u200dष ) ।"
    assert moses_tokenize(["a\u200db, c"], "en")[0] == "a\u200db , c"
    assert moses_tokenize(["hello. x y!"], "en")[0] == "hello. x y !"
