"""Campaign files to dated drafts: the loader (errors name file and line or key), date
rules (RFC 5545 RRULE and explicit dates, in the campaign's time zone), sandboxed Jinja2
rendering, and the content lint.
"""
