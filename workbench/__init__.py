"""Workbench: a plugin-based workbench for fine-tuning chat language models."""

__version__ = "0.1.0"
