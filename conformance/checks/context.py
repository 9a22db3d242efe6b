"""This is a sampler of NGSI-LD behaviour (ETSI GS CIM 009 V1.8.1), not a replacement for the ETSI
NGSI-LD conformance test suite.

The context checks, against the NGSI-LD API at ``/ngsi-ld/v1``: entities (create, retrieve,
duplicates), queries that must really filter (``q``, geo), batch operations, a subscription whose
notification the suite receives itself, and error types; profile ``mim`` adds the PPI contract.
Importing this module registers them all.
"""

from conformance.checks import context_batch, context_entities, context_ppi, context_subscriptions  # noqa: F401
