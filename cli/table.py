"""Every command of the command line: its name, where it lives and the first paragraph of
its help, so that ``publisher --help`` lists them without importing them (nor click: see
cli/quickhelp.py). tests/test_cli_lazy.py checks this table against the real commands."""

from __future__ import annotations

# name: ("module:attribute", the first paragraph of the command's help, words as written)
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": (
        "cli.campaigns:plan",
        "Import CAMPAIGN (a folder, or the name of a stored campaign) as a new revision if it changed, then plan it into dated drafts. Safe to run again.",
    ),
    "campaigns": (
        "cli.campaigns:campaigns_list",
        "Every campaign in the database: dates, accounts, languages, posts by state.",
    ),
    "campaign": (
        "cli.campaigns:campaign_group",
        "Import and export campaigns (the folder format: campaign.toml + templates/).",
    ),
    "lint": (
        "cli.campaigns:lint_command",
        "Check every post of CAMPAIGN against the content rules (for CI): exit 1 on errors.",
    ),
    "preview": (
        "cli.review:preview",
        "Show posts exactly as they will be sent, with their lengths and problems.",
    ),
    "queue": (
        "cli.review:queue",
        "List posts with their state, in time order, a page at a time.",
    ),
    "show": (
        "cli.review:show",
        "One post: its preview, sign-off stages, review links and history.",
    ),
    "review-link": (
        "cli.review:review_link",
        "A signed, expiring link to a read-only preview for a partner with no account.",
    ),
    "submit": (
        "cli.review:submit",
        "Send drafts for review.",
    ),
    "approve": (
        "cli.review:approve",
        "Approve posts you have previewed and did not write (one stage of their sign-off, where the settings list stages).",
    ),
    "reject": (
        "cli.review:reject",
        "Send posts back to their author with a reason.",
    ),
    "cancel": (
        "cli.review:cancel",
        "Cancel posts that have not been sent.",
    ),
    "edit": (
        "cli.review:edit",
        "Change a post's text. Any approval is voided; it goes back to draft.",
    ),
    "resolve": (
        "cli.review:resolve",
        "Settle a post whose outcome is unknown (or that failed).",
    ),
    "confirm": (
        "cli.review:confirm",
        "Send posts that missed their time after all (they go out at once).",
    ),
    "urgent": (
        "cli.review:urgent",
        "Let a public-safety post pass holds and blackouts.",
    ),
    "hold": (
        "cli.holds:hold",
        "Stop every send (or one account's) before the next claim.",
    ),
    "release": (
        "cli.holds:release",
        "Release a hold. Posts that missed their time by too long wait for confirmation.",
    ),
    "resume": (
        "cli.holds:resume",
        "Resume an account paused after its credentials failed (fix them first).",
    ),
    "status": (
        "cli.holds:status",
        "Holds, paused accounts, posts needing a person, and the next due posts.",
    ),
    "calendar": (
        "cli.posts:calendar",
        "Export the planned posts as an iCalendar file.",
    ),
    "compose": (
        "cli.posts:compose",
        "Write a single post for one or more accounts, in Welsh and/or English.",
    ),
    "reschedule": (
        "cli.posts:reschedule",
        "Move a post (and its Welsh/English pair) to a new time. An approved post goes back for review: the time is part of what was approved.",
    ),
    "import-csv": (
        "cli.posts:import_csv_command",
        "Import posts from a CSV file (date, time, account, language, text, image, alt text). Every row is checked first; nothing is imported unless all pass.",
    ),
    "media": (
        "cli.posts:media",
        "The media library: images stored in the database, metadata stripped.",
    ),
    "users": (
        "cli.people:users",
        "People who use the web app: roles (author, reviewer, administrator) and the accounts they may act on. Passwords come from a prompt or PUBLISHER_NEW_PASSWORD.",
    ),
    "worker": (
        "cli.ops:worker",
        "Run the publishing service until SIGTERM (finishes what is in flight, exits 0).",
    ),
    "outbox": (
        "cli.ops:outbox",
        "Show what the dry-run accounts have 'published'.",
    ),
    "log": (
        "cli.ops:log",
        "The audit log: who did what, when (oldest first; the same search as the web's). Streams: memory stays flat however long the log.",
    ),
    "web": (
        "cli.ops:web",
        "Serve the reviewers' web app on HOST:PORT until Ctrl+C.",
    ),
    "accounts": (
        "cli.ops:accounts",
        "The force's social media accounts.",
    ),
    "db": (
        "cli.ops:db",
        "Database maintenance.",
    ),
    "demo": (
        "cli.ops:demo",
        "Plan the example campaign into a fresh database, preview, approve and let the real worker publish the first posts to the dry-run outbox.",
    ),
    "doctor": (
        "cli.ops:doctor",
        "Check this installation: settings, database, credentials, clock, disk, state dir.",
    ),
    "backup": (
        "cli.ops:backup",
        "Take a consistent copy of the SQLite database, safe while the worker runs.",
    ),
    "retention": (
        "cli.ops:retention",
        "Delete the text of posts published more than N days ago; keep their audit record. For administrators (PUBLISHER_TOKEN).",
    ),
}
