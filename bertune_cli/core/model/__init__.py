"""The NMT model and what is saved of it.

``builders`` (presets and model construction), ``vocab`` (the target vocabulary = the LM's
WordPieces, or a shortlist of them), ``hf_tokenizers``, ``checkpoint`` (safetensors
checkpoints and ``bertune.json``), ``trainer_state`` (optimizer state as JSON + safetensors,
no pickle).
"""

__all__ = ["builders", "vocab", "hf_tokenizers", "checkpoint", "trainer_state"]
