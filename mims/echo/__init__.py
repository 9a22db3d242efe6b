"""Echo: the reference MIM, showing how a MIM is built on ``mims.kit`` (see README.md)."""
