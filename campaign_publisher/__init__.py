"""Campaign Publisher: plan, review and publish online-safety campaigns exactly once.

Packages: ``campaign`` (files to drafts), ``posts`` (the queue and its states),
``schedules`` (the worker), ``channels`` (one module per network), ``web`` (the
reviewers' app). ``publisher`` is the command line and wiring.
"""

__version__ = "0.1.0"
