"""SORT-AI coherence reasoner: load, validate, infer and explain architecture descriptions."""

__version__ = "0.1.0"
