"""The worker: an APScheduler job that dispatches due posts (``dispatch``), re-armed to
the next due post, with retries, holds and lease expiry handled by the queue.
"""
