"""One module per network behind one ``Channel`` interface (``base``), plus ``outbox``
(the dry run) and ``fake`` (records what it was sent; used by tests instead of mocks).
``registry.channel_for`` picks the channel for an account.
"""
