"""The command line's commands, by topic. ``publisher.py`` wires them into one group that
imports a module only when one of its commands runs (``cli.lazy``)."""
