"""The checks, one module per MIM; importing this package registers them all."""

from conformance.checks import common  # noqa: F401
from conformance.checks import gateway  # noqa: F401
from conformance.checks import identity  # noqa: F401
from conformance.checks import context  # noqa: F401
from conformance.checks import marketplace  # noqa: F401
from conformance.checks import permit_check  # noqa: F401
