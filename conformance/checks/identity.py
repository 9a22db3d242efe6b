"""The identity checks: any OpenID provider's metadata, keys, tokens, introspection and revocation
(profile ``standard``), and OUP's PPIs on top (profile ``mim``). Importing this module registers them."""

from conformance.checks import identity_discovery, identity_introspection, identity_tokens

__all__ = ["identity_discovery", "identity_introspection", "identity_tokens"]
