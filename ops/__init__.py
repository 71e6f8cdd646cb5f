"""Running the service: ``doctor`` checks, ``/healthz`` and Prometheus metrics, notifications
(email, webhook, the daily digest), the iCalendar export, online backups, retention of
published text, and the log format with every configured secret redacted.

``service.Operations`` ties these into the worker through its observer and service hooks.
"""
