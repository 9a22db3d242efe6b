"""NGSI-LD domain logic in plain Python (no web framework): errors, @context, entities, rendering."""
