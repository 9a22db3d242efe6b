"""The gateway's checks (issue 8), against a city's gateway URL: refusals at a protected route
(``gateway_pep``), PPI validation (``gateway_ppi``) and region partial failures
(``gateway_region``); ``gateway_support`` holds what they share and the options they read."""

from conformance.checks import gateway_pep, gateway_ppi, gateway_region  # noqa: F401  (registers them)
