"""The reviewers' web app (Flask, server-rendered): queue, calendar, post previews,
approve and reject, day review, the hold switch and the audit log, on the same queue the
command line and the worker use. ``app.create_app`` builds the application that
``publisher web`` serves; the people it serves live in ``people``.
"""
