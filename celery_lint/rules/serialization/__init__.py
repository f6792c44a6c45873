"""Serialization rules: pickle anywhere."""
