"""Model builders: one generic ``transformer`` builder and named presets that fix the numbers.

The model is a ``transformers.MarianMTModel`` created from scratch: encoder vocabulary = the
source BPE, decoder vocabulary = the target vocabulary (the LM's WordPieces or a shortlist of
them, see ``vocab.py``), no embedding shared between encoder and decoder, and — like fairseq's
``transformer_iwslt_de_en`` without ``--share-decoder-input-output-embed`` — an output
projection separate from the decoder input embedding (this is what gives the paper's ~79M
parameters with a 32k source vocabulary). Special ids follow method.md §1: pad = [PAD] (model
id 0 on both sides), decoder start = [CLS], end = [SEP]. The source side pads with 0 too
(SourceEncoder.pad_id == 0), which Marian requires: it has a single ``pad_token_id``.
Post-norm layers, ReLU, sinusoidal positions and sqrt(d) embedding scaling, as in fairseq.
"""

from __future__ import annotations

from typing import Any, Callable

from bertune_cli.core.errors import ConfigError


def transformer(
    src_vocab: int,
    tgt_vocab: int,
    *,
    encoder_layers: int,
    decoder_layers: int,
    d_model: int,
    encoder_ffn: int,
    decoder_ffn: int,
    encoder_heads: int,
    decoder_heads: int,
    dropout: float,
    attention_dropout: float = 0.0,
    activation_dropout: float = 0.0,
    activation: str = "relu",
    max_positions: int = 1024,
    pad_id: int = 0,
    bos_id: int = 1,
    eos_id: int = 2,
    suppress_ids: tuple[int, ...] = (),
):
    """A MarianMTModel with freshly initialised weights (fairseq's transformer init).

    ``bos_id``/``eos_id``/``pad_id`` are *model* ids of the target side ([CLS], [SEP], [PAD]);
    ``suppress_ids`` are model ids generation must never emit (pad, [CLS]).
    """
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    config = MarianConfig(
        vocab_size=src_vocab,
        decoder_vocab_size=tgt_vocab,
        share_encoder_decoder_embeddings=False,
        tie_word_embeddings=False,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        d_model=d_model,
        encoder_ffn_dim=encoder_ffn,
        decoder_ffn_dim=decoder_ffn,
        encoder_attention_heads=encoder_heads,
        decoder_attention_heads=decoder_heads,
        dropout=dropout,
        attention_dropout=attention_dropout,
        activation_dropout=activation_dropout,
        activation_function=activation,
        max_position_embeddings=max_positions,
        scale_embedding=True,
        pad_token_id=pad_id,
        decoder_start_token_id=bos_id,
        eos_token_id=eos_id,
        bos_token_id=None,
        forced_eos_token_id=None,
    )
    model = MarianMTModel(config)
    fairseq_init(model)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        suppress_tokens=sorted(set(suppress_ids)) or None,
        num_beams=5,
        early_stopping=True,
    )
    return model


def fairseq_init(model) -> None:
    """fairseq's initialisation: embeddings and output projection N(0, d^-1/2) (so that the
    sqrt(d)-scaled embeddings have unit variance, like the sinusoidal positions), Xavier-uniform
    linear layers (q/k/v with gain 1/sqrt(2)), zero biases, the pad row zero. HF's default
    N(0, 0.02) leaves token embeddings ~3x weaker than positions and trains markedly slower."""
    import math

    import torch
    from torch import nn

    d = model.config.d_model
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                if name == "lm_head":
                    nn.init.normal_(module.weight, 0.0, d**-0.5)
                else:
                    qkv = name.endswith(("q_proj", "k_proj", "v_proj"))
                    nn.init.xavier_uniform_(module.weight, gain=1 / math.sqrt(2) if qkv else 1.0)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding) and "embed_positions" not in name:
                nn.init.normal_(module.weight, 0.0, d**-0.5)
                if module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()


def transformer_iwslt_de_en(src_vocab: int, tgt_vocab: int, **kw):
    """fairseq's transformer_iwslt_de_en (the paper's baseline): 6+6 layers, d 512, FFN 1024,
    4 heads, dropout 0.3 — 79.1M parameters with a 32k source and the 30522 WordPiece vocab."""
    return transformer(
        src_vocab,
        tgt_vocab,
        **{
            **dict(
                encoder_layers=6,
                decoder_layers=6,
                d_model=512,
                encoder_ffn=1024,
                decoder_ffn=1024,
                encoder_heads=4,
                decoder_heads=4,
                dropout=0.3,
            ),
            **kw,
        },
    )


def transformer_small(src_vocab: int, tgt_vocab: int, **kw):
    """CPU-sized: 3+3 layers, d 256, FFN 1024, 4 heads, dropout 0.1."""
    return transformer(
        src_vocab,
        tgt_vocab,
        **{
            **dict(
                encoder_layers=3,
                decoder_layers=3,
                d_model=256,
                encoder_ffn=1024,
                decoder_ffn=1024,
                encoder_heads=4,
                decoder_heads=4,
                dropout=0.1,
            ),
            **kw,
        },
    )


def transformer_tiny(src_vocab: int, tgt_vocab: int, **kw):
    """For tests: 1+1 layers, d 32, FFN 64, 2 heads, no dropout, 128 positions."""
    return transformer(
        src_vocab,
        tgt_vocab,
        **{
            **dict(
                encoder_layers=1,
                decoder_layers=1,
                d_model=32,
                encoder_ffn=64,
                decoder_ffn=64,
                encoder_heads=2,
                decoder_heads=2,
                dropout=0.0,
                max_positions=128,
            ),
            **kw,
        },
    )


PRESETS: dict[str, Callable[..., Any]] = {
    "transformer_iwslt_de_en": transformer_iwslt_de_en,
    "transformer_small": transformer_small,
    "transformer_tiny": transformer_tiny,
}


def build_model(preset: str, src_vocab: int, target_vocab, dropout: float | None = None):
    """The recipe's ``model`` section -> a model for ``target_vocab`` (a TargetVocab)."""
    if preset not in PRESETS:
        raise ConfigError(
            f"unknown model preset {preset!r}", f"known presets: {', '.join(PRESETS)}"
        )
    kw: dict[str, Any] = dict(
        pad_id=target_vocab.pad_id,
        bos_id=target_vocab.bos_id,
        eos_id=target_vocab.eos_id,
        suppress_ids=(target_vocab.pad_id, target_vocab.bos_id),
    )
    if dropout is not None:
        kw["dropout"] = dropout
    if target_vocab.pad_id != 0:
        raise ConfigError(
            "the target [PAD] must be model id 0 (source and target share Marian's pad_token_id)",
            "use an LM whose [PAD] has the smallest id",
        )
    return PRESETS[preset](src_vocab, len(target_vocab), **kw)


def count_parameters(model) -> int:
    """Trainable parameters (the frozen sinusoidal position tables excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
