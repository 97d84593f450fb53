"""Strongroom."""
