"""One module per network behind one ``Channel`` interface (``base``), plus ``outbox``
(the dry run) and ``fake`` (records what it was sent; used by tests instead of mocks).
``networks`` is the one table of networks (limits, counting, images, channel class),
``outcomes`` the one place where a network's answer becomes an outcome, and
``registry.channel_for`` picks the channel for an account.
"""
