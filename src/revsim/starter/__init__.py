"""Starter scenarios for ``revsim init``: commented templates (sales-led, product-led, enterprise)."""
