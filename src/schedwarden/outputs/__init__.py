"""Outputs: one module per format. They import only the model."""
