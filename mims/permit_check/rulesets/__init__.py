"""Versioned rule sets of the permit check, one JSON document per municipality (see ruleset.schema.json)."""
