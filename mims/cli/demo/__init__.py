"""`oup demo`: the living demo. ``seed`` loads each city's data (digital twin, zoning, catalogue)
through the platform's public HTTP APIs, reading the open formats with ``mims.kit.geo``;
``certify`` has the city certify its own MIMs with the conformance suite. Like the rest of the
command line it uses no MIM's code: it talks to the running services."""
