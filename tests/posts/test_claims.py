from datetime import timedelta

from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.base import Receipt
from core.errors import RetryableError
from posts import claims, holds, review
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import approve_all, who, write_campaign


def _ready(db, settings, clock, tmp_path, **kw) -> list[Post]:
    folder = write_campaign(tmp_path / "c", **kw)
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    approve_all(db, ids, clock.now())
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


def _claim(db, clock, **kw):
    return claims.claim_due_posts(
        db, owner="w1", now=clock.now(), limit=kw.pop("limit", 50), lease_seconds=60, **kw
    )


def test_only_due_approved_posts_are_claimed_once(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at - timedelta(seconds=1))
    assert _claim(db, clock) == []  # nothing due yet
    clock.set(posts[0].due_at)
    first = _claim(db, clock)
    assert [c.id for c in first] == [posts[0].id] and first[0].attempt == 1
    assert _claim(db, clock) == []  # already sending: never claimed twice
    with db.transaction() as s:
        row = s.get(Post, posts[0].id)
        assert row.state == "sending" and row.lease_owner == "w1"


def test_claim_rechecks_the_approval(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    with db.transaction() as s:  # content changed behind the approval's back
        s.get(Post, posts[0].id).content_hash = "0" * 64
    clock.set(posts[0].due_at)
    assert _claim(db, clock) == []


def test_holds_stop_claims_and_urgent_passes(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[1].due_at)
    holds.set_hold(db, actor=who("chief"), reason="critical incident", now=clock.now())
    assert _claim(db, clock) == []
    with db.transaction() as s:
        s.get(Post, posts[0].id).urgent = True
    assert [c.id for c in _claim(db, clock)] == [posts[0].id]
    holds.release(db, actor=who("chief"), now=clock.now())
    assert [c.id for c in _claim(db, clock)] == []  # account busy with post 0: order kept


def test_account_hold_only_stops_that_account(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path, accounts='["gwent-x", "gwent-facebook"]')
    clock.set(posts[0].due_at)
    holds.set_hold(db, actor=who("chief"), reason="X outage", now=clock.now(), account="gwent-x")
    claimed = _claim(db, clock)
    assert {c.account for c in claimed} == {"gwent-facebook"}


def test_pair_goes_together_or_not_at_all(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path, languages='["cy", "en"]')
    first_day = [p for p in posts if p.occasion == posts[0].occasion]
    assert len(first_day) == 2 and first_day[0].pair_key == first_day[1].pair_key
    review.edit(db, first_day[0].id, actor=who("carol"), now=clock.now(), text="changed: 101 999")
    clock.set(first_day[1].due_at)
    assert _claim(db, clock) == []  # its partner is no longer approved
    review.submit(db, [first_day[0].id], actor=who("carol"), now=clock.now())
    review.record_previews(db, [first_day[0].id], actor=who("bob"), now=clock.now())
    review.approve(db, [first_day[0].id], actor=who("bob"), now=clock.now())
    # Both halves go, one after the other on their account (its posts keep their order).
    [first] = _claim(db, clock)
    claims.record_published(db, first, Receipt("1"), now=clock.now())
    [second] = _claim(db, clock)
    assert {first.id, second.id} == {p.id for p in first_day}


def test_fence_refuses_a_late_result(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    [claimed] = _claim(db, clock)
    claims.record_failure(
        db, claimed, RetryableError("429", retry_after=0), now=clock.now(), policy=settings.worker
    )
    [again] = _claim(db, clock)
    assert again.attempt == 2
    # The first attempt's answer arrives late: it must not overwrite attempt 2.
    assert claims.record_published(db, claimed, Receipt("late"), now=clock.now()) is False
    assert claims.record_published(db, again, Receipt("ok"), now=clock.now()) is True


def test_stale_posts_wait_for_a_person(db, settings, clock, tmp_path) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at + timedelta(minutes=121))
    stale = claims.mark_stale(db, now=clock.now(), default_minutes=120)
    assert stale == [posts[0].id]
    assert posts[0].id not in [c.id for c in _claim(db, clock, limit=1)]
    review.confirm(db, [posts[0].id], actor=who("bob"), reason="still relevant", now=clock.now())
    assert claims.mark_stale(db, now=clock.now(), default_minutes=120) == []
    with db.transaction() as s:
        assert s.get(Post, posts[0].id).state == "approved"


def test_rejected_half_holds_back_the_other(db, settings, clock, tmp_path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["cy", "en"]')
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        welsh, english = s.scalars(select(Post).order_by(Post.id).limit(2)).all()
    review.submit(db, [welsh.id, english.id], actor=who("alice"), now=clock.now())
    review.record_previews(db, [welsh.id, english.id], actor=who("bob"), now=clock.now())
    review.approve(db, [english.id], actor=who("bob"), now=clock.now())
    review.reject(db, [welsh.id], actor=who("bob"), reason="Cywirwch y treiglad", now=clock.now())
    clock.set(english.due_at)
    assert _claim(db, clock) == []  # the English half waits for its Welsh half
    from posts.textviews import held_back_pairs

    [(waiting, other)] = held_back_pairs(db, clock.now())  # and `publisher status` says so
    assert (waiting.id, other.id, other.state) == (english.id, welsh.id, "draft")


def test_each_stale_post_is_marked_and_told_once(db, settings, clock, tmp_path) -> None:
    """Several workers mark stale posts at once: a row another worker holds is skipped,
    not marked a second time (PostgreSQL; SQLite has one writer at a time)."""
    from posts.models import Event

    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at + timedelta(hours=3))
    skipped: list[int] = []
    if db.dialect == "postgresql":
        with db.engine.connect() as other, other.begin():
            other.execute(select(Post.id).where(Post.id == posts[0].id).with_for_update())
            skipped = claims.mark_stale(db, now=clock.now(), default_minutes=120)
        assert posts[0].id not in skipped  # another worker is marking it
    marked = claims.mark_stale(db, now=clock.now(), default_minutes=120)
    assert claims.mark_stale(db, now=clock.now(), default_minutes=120) == []
    assert posts[0].id in skipped + marked
    with db.transaction() as s:
        events = s.scalars(select(Event.post_id).where(Event.action == "stale")).all()
    assert sorted(events) == sorted(set(events)) == sorted(skipped + marked)


def _events(db, action):
    from posts.models import Event

    with db.transaction() as s:
        return list(s.scalars(select(Event).where(Event.action == action).order_by(Event.id)))


def test_a_group_commit_fences_each_result_as_alone(db, settings, clock, tmp_path) -> None:
    """Results recorded together (``record_published_all``): a late one is refused and
    noted exactly as alone, and does not stop the others being recorded."""
    posts = _ready(db, settings, clock, tmp_path, accounts='["gwent-x", "gwent-facebook"]')
    clock.set(max(p.due_at for p in posts[:2]))
    first, second = _claim(db, clock)
    claims.record_failure(
        db, second, RetryableError("429", retry_after=0), now=clock.now(), policy=settings.worker
    )
    [again] = [c for c in _claim(db, clock) if c.id == second.id]
    assert again.attempt == 2
    recorded = claims.record_published_all(
        db,
        [
            claims.Published(first, Receipt("r1"), clock.now()),
            claims.Published(second, Receipt("late"), clock.now()),  # attempt 1: too late
        ],
    )
    assert recorded == [True, False]
    with db.transaction() as s:
        assert s.get(Post, first.id).state == "published"
        assert s.get(Post, first.id).remote_id == "r1"
        row = s.get(Post, second.id)
        assert (row.state, row.attempt, row.remote_id) == ("sending", 2, None)
    assert [e.post_id for e in _events(db, "published")] == [first.id]
    assert len(_events(db, "late_result")) == 1
    assert claims.record_published_all(
        db, [claims.Published(again, Receipt("r2"), clock.now())]
    ) == [True]
    published = _events(db, "published")
    assert [e.post_id for e in published] == [first.id, second.id]
    assert [(e.from_state, e.to_state, e.actor) for e in published] == [
        ("sending", "published", "worker")
    ] * 2


def test_a_group_commit_settles_posts_put_in_doubt(db, settings, clock, tmp_path) -> None:
    """A result whose lease was taken over meanwhile (``checking``, same attempt) settles
    the post, in a group as alone."""
    posts = _ready(db, settings, clock, tmp_path, accounts='["gwent-x", "gwent-facebook"]')
    clock.set(max(p.due_at for p in posts[:2]))
    first, second = _claim(db, clock)
    clock.advance(61)
    claims.take_expired_leases(db, owner="w2", now=clock.now(), policy=settings.worker, holding=[])
    results = [claims.Published(c, Receipt(f"r{c.id}"), clock.now()) for c in (first, second)]
    assert claims.record_published_all(db, results) == [True, True]
    with db.transaction() as s:
        for c in (first, second):
            row = s.get(Post, c.id)
            assert (row.state, row.remote_id, row.check_from) == ("published", f"r{c.id}", None)
    assert [e.from_state for e in _events(db, "published")] == ["checking", "checking"]


def test_the_worker_stores_times_as_sqlalchemy_does(db, settings, clock, tmp_path) -> None:
    """The claim and the group record write on the driver's connection: their times must
    be stored in the one form SQLite compares as text (microseconds always written), or a
    time on a whole second would sort before the same time written by the ORM."""
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)  # a whole second
    [claimed] = _claim(db, clock)
    assert claims.record_published_all(
        db, [claims.Published(claimed, Receipt("r1"), clock.now())]
    ) == [True]
    if db.dialect != "sqlite":
        return
    with db.engine.connect() as c:
        stored = tuple(
            c.exec_driver_sql(
                "SELECT updated_at, published_at FROM posts WHERE id = ?", (claimed.id,)
            ).one()
        )
        stored += tuple(
            c.exec_driver_sql(
                "SELECT at FROM events WHERE post_id = ? AND actor = 'worker'", (claimed.id,)
            ).scalars()
        )
    assert len(stored) == 4 and all(t.endswith(".000000") for t in stored), stored


def test_the_drivers_utc_text_is_sqlalchemys_on_sqlite() -> None:
    """The worker's statements turn times into text themselves on SQLite
    (``journal.sqlite_utc_text``): exactly SQLAlchemy's form, or times written by the
    worker and by the ORM would compare wrongly as text."""
    from datetime import UTC, datetime, timezone

    import pytest
    from sqlalchemy.dialects import sqlite

    from posts.journal import sqlite_utc_text
    from posts.models import UTCDateTime

    dialect = sqlite.dialect()
    sqlalchemys = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    times = [
        datetime(2027, 1, 4, 7, 30, tzinfo=UTC),  # a whole second
        datetime(2027, 1, 4, 7, 30, 0, 5, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 59, 59, 999999, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 10, 25, 1, 30, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 1, tzinfo=UTC),
        None,
    ]
    assert [sqlite_utc_text(t) for t in times] == [sqlalchemys(t) for t in times]
    with pytest.raises(ValueError, match="naive"):
        sqlite_utc_text(datetime(2027, 1, 4, 7, 30))


def test_the_drivers_loaders_are_sqlalchemys_on_sqlite() -> None:
    """The claim's rows are loaded by ``journal._result_processor``, whose fast paths for
    a stored UTC time and an empty JSON list give exactly what SQLAlchemy's loaders give;
    any other stored form goes to SQLAlchemy's."""
    from sqlalchemy.dialects import sqlite

    from posts.journal import _result_processor
    from posts.models import Post, UTCDateTime

    dialect = sqlite.dialect()
    for type_, stored in (
        (
            UTCDateTime(),
            [
                "2027-01-04 07:30:00.000000",
                "2027-01-04 07:30:00.000005",
                "0999-01-01 00:00:00.000000",
                "2027-01-04 07:30:00",  # not the worker's form: SQLAlchemy's loader
                "2027-01-04 07:30:00.5+01:00",
                None,
            ],
        ),
        (Post.__table__.c.media.type, ["[]", '[{"sha256": "ab", "alt_text": "x"}]', None]),
    ):
        ours = _result_processor(type_, dialect)
        sqlalchemys = type_.dialect_impl(dialect).result_processor(dialect, None)
        assert ours is not sqlalchemys
        loaded = [ours(text) for text in stored]
        assert loaded == [sqlalchemys(text) for text in stored]
        assert [getattr(v, "tzinfo", None) for v in loaded] == [
            getattr(sqlalchemys(text), "tzinfo", None) for text in stored
        ]
