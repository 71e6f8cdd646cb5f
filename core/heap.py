"""The heap a long-running process starts with, kept out of the garbage collector's way.

A full pass of Python's collector walks every object the process holds: about 75 ms for
the web server's 117,000 objects after start-up (SQLAlchemy, Flask, Jinja, the settings),
landing in whichever page or send happens to be running, about once every 160 pages.
Those objects live as long as the process, so once loaded they are moved out of the
collector's generations (``gc.freeze``): the passes then walk only what came since.
"""

from __future__ import annotations

import gc


def freeze_loaded() -> None:
    """Collect what start-up left as garbage, then freeze every object alive now. Called
    by ``publisher web`` once it has loaded what it serves with; not in tests, where a
    frozen object that ends up in a reference cycle is never freed."""
    gc.collect()
    gc.freeze()
