"""The permit check MIM: a building plan checked against the zoning plan, rule by rule, with reasons."""
