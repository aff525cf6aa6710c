"""Tile datasets cut from large images (being written)."""
