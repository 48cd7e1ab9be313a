"""Databahn: the data highway for research consortia."""

__version__ = "0.1.0"

__all__ = ["__version__"]
