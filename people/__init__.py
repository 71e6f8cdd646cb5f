"""People: users, roles, per-account rights and sessions, checked by the library actions
that every door (command line, web) calls. ``users`` holds local users and their rights.
"""
