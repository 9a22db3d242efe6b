"""The shared plumbing every MIM is built on.

``service`` (``MimSpec``, ``create_app``), ``settings``, ``problems`` and ``errors``
(RFC 9457), ``middleware``, ``logging``, ``ppi`` (request bodies checked against PPIs),
``wellknown``, ``storage`` and ``auth``. Submodules are imported explicitly, so code
that needs only problem details does not load the web stack. ``mims/echo`` is the
worked example of a MIM.
"""
