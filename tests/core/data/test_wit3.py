"""WIT3 archives read as fairseq's prepare-iwslt14.sh reads them (tags, <seg> lines, split)."""
from __future__ import annotations

import gzip
import tarfile

import pytest

from bertune_cli.core.data import wit3
from bertune_cli.core.errors import DataError


@pytest.fixture()
def kit(wit3_kit):
    return wit3_kit


def test_train_tag_lines_filtered_like_fairseq():
    lines = ["<url>http://x</url>", "<keywords>a, b</keywords>", "<talkid>7</talkid>",
             "<title>Ken Robinson: Schools</title>", "<description>Talk.</description>",
             "<speaker>Ken</speaker>", "Hello there .", "  indented  "]
    # fairseq greps out url/talkid/keywords, strips title/description tags, keeps the rest
    assert wit3.train_lines(lines) == ["Ken Robinson: Schools", "Talk.", "<speaker>Ken</speaker>",
                                       "Hello there .", "  indented  "]


def test_xml_segments_strip_tags_unescape_and_map_quotes():
    lines = ['<doc docid="1">', "<talkid>1</talkid>", '<seg id="1"> R&amp;D isn’t  easy. </seg>',
             '<seg id="22">Zwei &lt;b&gt;</seg>', "</doc>"]
    assert wit3.xml_segments(lines) == ["R&D isn't  easy.", "Zwei <b>"]


def test_default_test_sets_are_fairseqs_for_de_en():
    assert wit3.default_test_sets("de", "en") == wit3.FAIRSEQ_DE_EN
    assert wit3.default_test_sets("en", "de") == wit3.FAIRSEQ_DE_EN
    assert "IWSLT14.TEDX.dev2012" not in wit3.default_test_sets("zh", "en")


def test_load_from_tgz_and_from_extracted_folder(wit3_tgz, tmp_path, kit):
    path = wit3_tgz(n_train=30, test_size=3)
    corpus = wit3.load_wit3(wit3.Archive(path), "de", "en")
    assert corpus.pair == "de-en"
    assert len(corpus.train_src) == len(corpus.train_tgt) == 32  # + title and description
    assert corpus.train_src[0] == "Talk title" and corpus.train_src[2] == "Das ist ein Haus . 0"
    assert corpus.test_counts == {name: 3 + k for k, name in enumerate(kit.test_sets)}
    assert list(corpus.test_counts) == list(wit3.FAIRSEQ_DE_EN)  # fairseq's cat order
    assert corpus.test_tgt[0] == "That is a house . R&D 0's"
    folder = tmp_path / "extracted"
    with tarfile.open(path) as tar:
        tar.extractall(folder, filter="data")
    gz = folder / "de-en" / "IWSLT14.TED.tst2012.de-en.en.xml"  # folders may hold .gz members
    gz.with_suffix(".xml.gz").write_bytes(gzip.compress(gz.read_bytes()))
    gz.unlink()
    again = wit3.load_wit3(wit3.Archive(folder), "de", "en")
    assert again.train_src == corpus.train_src and again.test_tgt == corpus.test_tgt


def test_reverse_direction_uses_the_same_archive(wit3_tgz):
    corpus = wit3.load_wit3(wit3.Archive(wit3_tgz(n_train=10)), "en", "de")
    assert corpus.pair == "de-en" and corpus.train_src[2].startswith("That is")


def test_archive_without_expected_members(tmp_path, kit):
    members = kit.members()
    del members["de-en/IWSLT14.TED.tst2011.de-en.en.xml"]
    path = kit.write_tgz(tmp_path / "de-en.tgz", members)
    with pytest.raises(DataError, match=r"de-en\.tgz: no IWSLT14\.TED\.tst2011\.de-en\.en\.xml"):
        wit3.load_wit3(wit3.Archive(path), "de", "en")
    with pytest.raises(DataError, match=r"no train\.tags\.fr-en\.fr"):
        wit3.load_wit3(wit3.Archive(path), "fr", "en")


def test_misaligned_train_and_test_files(tmp_path, kit):
    members = kit.members(n_train=10)
    members["de-en/train.tags.de-en.en"] += b"one more line\n"
    with pytest.raises(DataError, match=r"train\.tags\.de-en\.de has 12 lines but "
                                        r"train\.tags\.de-en\.en has 13"):
        wit3.load_wit3(wit3.Archive(kit.write_tgz(tmp_path / "a.tgz", members)), "de", "en")
    members = kit.members(n_train=10)
    members["de-en/IWSLT14.TED.dev2010.de-en.de.xml"] = b'<seg id="1"> x </seg>\n'
    with pytest.raises(DataError, match=r"dev2010\.de-en\.de\.xml has 1 segments but"):
        wit3.load_wit3(wit3.Archive(kit.write_tgz(tmp_path / "b.tgz", members)), "de", "en")


def test_corrupt_or_truncated_archive(tmp_path, wit3_tgz):
    data = wit3_tgz(n_train=2000).read_bytes()
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.tgz: .*(truncated|cannot be read|not a readable)"):
        wit3.load_wit3(wit3.Archive(cut), "de", "en")
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not an archive")
    with pytest.raises(DataError, match="not a readable tar archive"):
        wit3.Archive(junk)
    with pytest.raises(DataError, match="WIT3 archive not found"):
        wit3.Archive(tmp_path / "none.tgz")


def test_invalid_utf8_in_a_member_names_member_and_line(tmp_path, kit):
    members = kit.members(n_train=10)
    members["de-en/train.tags.de-en.de"] = members["de-en/train.tags.de-en.de"].replace(
        b"Hund", b"H\xfcnd", 1)
    with pytest.raises(DataError, match=r"de-en\.tgz:train\.tags\.de-en\.de:7:\d+: invalid UTF-8 \(byte 0xfc\)"):
        wit3.load_wit3(wit3.Archive(kit.write_tgz(tmp_path / "de-en.tgz", members)), "de", "en")
