"""Model builders: presets over MarianMTModel with the decoder vocabulary of the LM."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bertune_cli.core.errors import ConfigError
from bertune_cli.core.model.builders import PRESETS, build_model, count_parameters
from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

SPECIALS = LMSpecials(vocab_size=30522, pad=0, cls=101, sep=102, unk=100)


def test_presets_are_a_plain_dict_of_builders():
    assert set(PRESETS) == {"transformer_iwslt_de_en", "transformer_small", "transformer_tiny"}


def test_special_ids_and_unshared_embeddings_follow_method_section_1():
    vocab = TargetVocab.shortlist(np.array([0, 100, 101, 102, 103, 2000, 2001]), SPECIALS)
    model = build_model("transformer_tiny", 50, vocab)
    c = model.config
    assert (c.vocab_size, c.decoder_vocab_size) == (50, 7)
    assert c.share_encoder_decoder_embeddings is False and c.tie_word_embeddings is False
    assert (c.pad_token_id, c.decoder_start_token_id, c.eos_token_id) == (0, 2, 3)
    assert c.forced_eos_token_id is None
    assert model.lm_head.weight.data_ptr() != model.model.decoder.embed_tokens.weight.data_ptr()
    assert set(model.generation_config.suppress_tokens) == {vocab.pad_id, vocab.bos_id}
    # fairseq init: the pad rows are zero, embeddings N(0, d^-1/2)
    assert torch.all(model.model.decoder.embed_tokens.weight[0] == 0)


def test_iwslt_preset_has_the_papers_79m_parameters():
    """fairseq transformer_iwslt_de_en with a 32k source vocab and the 30522 WordPiece decoder
    vocabulary: 79.18M parameters (the paper's ~79M). Built on the meta device (no memory)."""
    with torch.device("meta"):
        model = PRESETS["transformer_iwslt_de_en"](32000, 30522)
    n = count_parameters(model)
    print(f"transformer_iwslt_de_en: {n:,} parameters")
    assert n == 79_181_824
    c = model.config
    assert (c.encoder_layers, c.decoder_layers, c.d_model, c.encoder_ffn_dim,
            c.encoder_attention_heads, c.dropout) == (6, 6, 512, 1024, 4, 0.3)


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="transformer_small"):
        build_model("transformer_huge", 10, TargetVocab.full(SPECIALS))


def test_dropout_override():
    model = build_model("transformer_tiny", 20, TargetVocab.full(SPECIALS), dropout=0.25)
    assert model.config.dropout == 0.25
