"""The portal: the city's platform for people, server-rendered HTML the gateway serves at ``/``.

Citizens check a building plan, permit officers look at past checks, data developers find data in
the marketplace and ask for access, vendors see certificates, everyone sees the region. Pages work
without JavaScript (maps add to them where it runs), in Dutch and English, to WCAG 2.2 AA.

The portal holds no data of its own: every page asks the platform's public APIs through this
gateway (``upstream.py``), with the signed-in person's access token, so tokens, scopes, grants,
PPI validation and metering apply to it as to any other client. People sign in at the identity
MIM with the authorization code flow and PKCE (``signin.py``).
"""
