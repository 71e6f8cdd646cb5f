"""The queue: tables, the one table of allowed state transitions, and the queries that
plan, review, claim and record posts. Only ``states.transition`` decides a new state.
"""
