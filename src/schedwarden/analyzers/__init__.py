"""Analyzers: records → findings. They import only the model."""
