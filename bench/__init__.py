"""Benchmarks that print comparable figures; run one with ``python -m bench.<name>``."""
