"""bertune: BERTTune NMT fine-tuning, scoring and serving (CLI in ``main``, library in ``core``)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
