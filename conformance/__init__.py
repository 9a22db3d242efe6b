"""The conformance suite: checks a component against a MIM's PPIs over HTTP, as any outside
party would, reports the evidence and certifies a component whose must-checks all pass.

It imports nothing of the MIMs or the gateway, only ``ppi_schemas`` (an import contract).
"""

SUITE_VERSION = "0.1.0"
