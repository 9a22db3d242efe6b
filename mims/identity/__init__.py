"""Identity: the platform's OAuth 2.0 authorization server (see README.md)."""
