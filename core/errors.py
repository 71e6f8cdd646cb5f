"""The one error tree. Every error the project raises derives from ``PublisherError``.

::

    PublisherError
    ├── SettingsError        config.toml or PUBLISHER_* variables are wrong
    │   └── NoDatabase       the settings point at a database that was never created
    ├── CampaignError        a campaign file or template is wrong (names file and line/key)
    ├── LoginFailed          a sign-in was refused (never says whether the name exists)
    ├── BackupError          a backup could not be taken
    ├── NotifyError          a notice could not be delivered
    ├── DemoRefused          the demo's folder holds something the demo did not make
    ├── QueueError           a request on the queue cannot be done
    │   ├── NotFound         no such post
    │   ├── TransitionRefused  the state table does not allow it
    │   ├── ChangedSinceOpened the post changed since the person was shown it
    │   └── PermissionDenied   e.g. the author approving their own post
    │       ├── NotPreviewed   the reviewer has not seen the current content
    │       ├── NotAllowed     the person's role or accounts do not allow the action
    │       └── NotIdentified  the command line could not tell who runs it (token)
    └── ChannelError         a network refused or failed; the subclass is the outcome
        ├── RetryableError   nothing was created; try again (after ``retry_after`` seconds)
        ├── PermanentError   nothing was created; trying again will not help
        ├── AuthenticationError  credentials are wrong or expired; pause the account
        ├── AlreadyPublished the network says this content is already there
        └── AmbiguousError   it may or may not have been created; reconcile, never resend blindly

The command line turns any ``PublisherError`` into a one-paragraph message.
"""

from __future__ import annotations


class PublisherError(Exception):
    """Root of every error Campaign Publisher raises on purpose."""


class SettingsError(PublisherError):
    """The settings (config.toml or PUBLISHER_* variables) are invalid."""


class NoDatabase(SettingsError):
    """The settings name a database that does not exist; only ``plan``, ``db upgrade``
    and ``demo`` create one."""


class CampaignError(PublisherError):
    """A campaign file or template is invalid. ``where`` names the file and line or key."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class LoginFailed(PublisherError):
    """A sign-in was refused. The message never says whether the name exists."""


class BackupError(PublisherError):
    """The backup could not be taken (nothing was left at the target)."""


class NotifyError(PublisherError):
    """A notifier could not deliver a notice (the message never carries a secret)."""


class DemoRefused(PublisherError):
    """The demo's folder holds something the demo did not make; nothing was deleted."""


class QueueError(PublisherError):
    """A request on the queue cannot be done."""


class NotFound(QueueError):
    """No post (or other record) with that id."""


class TransitionRefused(QueueError):
    """The post state table does not allow this action from the post's state."""


class PermissionDenied(QueueError):
    """The acting person may not do this (four eyes, or not previewed)."""


class ChangedSinceOpened(QueueError):
    """The post changed since the person opened it: nothing was done (reload, look again)."""


class NotPreviewed(PermissionDenied):
    """The reviewer has not seen the post's current content, which approval needs."""


class NotAllowed(PermissionDenied):
    """The acting person's role or accounts do not allow this action (people/rights.py);
    the message names who, what and which account. Nothing was changed."""


class NotIdentified(PermissionDenied):
    """The command line could not tell who runs it: no personal token, an unknown or
    revoked one, or a disabled user. The message names the variable to set."""


class ChannelError(PublisherError):
    """A network call did not publish. The subclass says what the worker must do."""

    outcome = "error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetryableError(ChannelError):
    """Rejected before anything was created (429, 5xx before sending, connection refused)."""

    outcome = "retryable"


class PermanentError(ChannelError):
    """Rejected for good (validation, permissions, policy): a person must change something."""

    outcome = "permanent"


class AuthenticationError(ChannelError):
    """Credentials are invalid or expired: the account is paused, nothing retries."""

    outcome = "authentication"


class AlreadyPublished(ChannelError):
    """The network reports this content as already published (X 403 duplicate, Facebook 506)."""

    outcome = "already_published"

    def __init__(self, message: str, *, remote_id: str | None = None, url: str | None = None):
        super().__init__(message)
        self.remote_id = remote_id
        self.url = url


class AmbiguousError(ChannelError):
    """The request may have been created (timeout after sending, 5xx, connection dropped)."""

    outcome = "ambiguous"
