"""Canonical revenue model and the YAML mappings that translate systems to and from it."""
