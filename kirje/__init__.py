"""Kirje: self-hosted email marketing and automation with four wire-compatible APIs."""

__version__ = "0.1.0"
