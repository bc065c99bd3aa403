"""The frozen pretrained LM and what is computed on it.

``model`` (loading an LM and its tokenizer offline, hidden states of one layer), ``matching``
(the greedy cosine matching behind F_BERT, shared by the loss and the metric), ``refcache``
(the bounded cache of the references' hidden states used while fine-tuning).
"""

__all__ = ["model", "matching", "refcache"]
