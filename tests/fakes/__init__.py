"""Strict fakes of the networks, one module each (real HTTP servers on 127.0.0.1)."""
