"""Single posts: several accounts at once, Welsh and English, checked before anything is
stored, urgent with a reason, sent for review in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.settings import Settings
from posts import media as library
from posts.compose import ASAP_NOTE, Composition, CompositionError, ImageChoice, compose, plan
from posts.db import Database
from posts.models import Event, Post
from tests.helpers import who
from tests.posts.media_helpers import photo_with_gps

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
CY = "Apêl: mae Sam, 12 oed, ar goll o Gasnewydd. Ffoniwch 101."
EN = "Appeal: Sam, 12, is missing from Newport. Please call 101."
ALT = {"cy": "Llun o Sam yn gwisgo siaced las", "en": "A photo of Sam wearing a blue jacket"}


def _posts(db: Database) -> list[Post]:
    with db.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def _events(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def test_bilingual_appeal_on_two_accounts_is_two_pairs_urgent_and_in_review(
    db: Database, settings: Settings
) -> None:
    item, _ = library.add_image(
        db, photo_with_gps(), filename="sam.jpg", alt_text=ALT, languages=["cy", "en"],
        actor="alice", now=NOW,
    )
    made = compose(
        db,
        settings,
        Composition(
            accounts=["gwent-x", "gwent-facebook"],
            texts={"cy": CY, "en": EN},
            images=[ImageChoice(item.sha256)],
            urgent=True,
            urgent_reason="Missing child appeal",
        ),
        actor=who("alice"),
        now=NOW,
        submit=True,
    )
    posts = _posts(db)
    assert [(p.account, p.language) for p in posts] == [
        ("gwent-x", "cy"), ("gwent-x", "en"), ("gwent-facebook", "cy"), ("gwent-facebook", "en")
    ]
    assert len(made) == 4 and all(p.state == "in_review" and p.urgent for p in posts)
    assert all(p.campaign == "" and p.author == "alice" for p in posts)
    assert posts[0].pair_key == posts[1].pair_key != posts[2].pair_key  # per network
    assert posts[0].due_at == NOW and posts[0].time_note == ASAP_NOTE  # as soon as approved
    assert posts[0].media[0]["alt_text"] == ALT["cy"] and posts[1].media[0]["alt_text"] == ALT["en"]
    with db.transaction() as session:
        urgent = list(session.scalars(select(Event).where(Event.action == "urgent")))
    assert len(urgent) == 4 and {e.detail for e in urgent} == {"Missing child appeal"}


def test_together_makes_one_post_welsh_first(db: Database, settings: Settings) -> None:
    when = NOW + timedelta(days=1)
    compose(
        db, settings,
        Composition(accounts=["gwent-x"], texts={"en": "Short tip.", "cy": "Awgrym byr."},
                    when=when, together=True),
        actor=who("alice"), now=NOW,
    )
    (post,) = _posts(db)
    assert post.language == "cy+en" and post.text == "Awgrym byr.\n\nShort tip."
    assert post.due_at == when and post.pair_key is None and post.state == "draft"


@pytest.mark.parametrize(
    ("composition", "field", "words"),
    [
        (Composition(accounts=[], texts={"en": EN}), "accounts", "at least one"),
        (Composition(accounts=["nope"], texts={"en": EN}), "accounts", "unknown account 'nope'"),
        (Composition(accounts=["gwent-x"], texts={"en": " ", "cy": ""}), "text_cy", "Welsh or English"),
        (Composition(accounts=["gwent-x"], texts={"en": EN}, when=NOW - timedelta(minutes=1)),
         "when", "has passed"),
        (Composition(accounts=["gwent-x"], texts={"en": EN, "cy": CY}, urgent=True),
         "urgent_reason", "say why"),
        (Composition(accounts=["gwent-x"], texts={"en": EN, "cy": CY},
                     images=[ImageChoice("0123456789abcdef")]), "images", "upload it first"),
        (Composition(accounts=["gwent-x"], texts={"en": "x" * 300, "cy": CY}), "text_en",
         "cannot go for review"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    db: Database, settings: Settings, composition: Composition, field: str, words: str
) -> None:
    before = _events(db)
    with pytest.raises(CompositionError) as refused:
        compose(db, settings, composition, actor=who("alice"), now=NOW, submit=True)
    assert refused.value.field == field and words in str(refused.value)
    assert _posts(db) == [] and _events(db) == before


def test_image_limits_and_alt_text_per_language(db: Database, settings: Settings) -> None:
    item, _ = library.add_image(
        db, photo_with_gps(), filename="sam.jpg", alt_text={"en": ALT["en"]}, languages=["en"],
        actor="alice", now=NOW,
    )
    with pytest.raises(CompositionError) as refused:
        plan(db, settings, Composition(accounts=["gwent-x"], texts={"cy": CY, "en": EN},
                                       images=[ImageChoice(item.sha256)]), now=NOW)
    assert refused.value.field == f"alt_cy_{item.sha256[:12]}"
    fine = plan(db, settings, Composition(
        accounts=["gwent-x"], texts={"cy": CY, "en": EN},
        images=[ImageChoice(item.sha256, {"cy": ALT["cy"]})]), now=NOW)
    assert [p.media[0]["alt_text"] for p in fine] == [ALT["cy"], ALT["en"]]


def test_english_only_is_flagged_for_its_missing_welsh(db: Database, settings: Settings) -> None:
    (only,) = plan(db, settings, Composition(accounts=["gwent-x"], texts={"en": EN}), now=NOW)
    assert [p["rule"] for p in only.errors] == ["welsh-counterpart"]



def test_an_account_in_one_language_gets_that_language_only(
    db: Database, settings: Settings
) -> None:
    """Issue 15: "or one language, as the account allows"."""
    english_x = settings.accounts["gwent-x"].replace(languages=("en",))
    only_english = settings.replace(accounts={**settings.accounts, "gwent-x": english_x})
    made = plan(db, only_english, Composition(accounts=["gwent-x", "gwent-facebook"],
                                              texts={"cy": CY, "en": EN}), now=NOW)
    assert [(p.account, p.language) for p in made] == [
        ("gwent-x", "en"), ("gwent-facebook", "cy"), ("gwent-facebook", "en")]
    with pytest.raises(CompositionError) as refused:
        plan(db, only_english, Composition(accounts=["gwent-x"], texts={"cy": CY}), now=NOW)
    assert refused.value.field == "text_en" and "posts in English" in str(refused.value)


def test_a_composed_post_with_a_library_image_can_be_edited(
    db: Database, settings: Settings
) -> None:
    from posts import review

    item, _ = library.add_image(
        db, photo_with_gps(), filename="sam.jpg", alt_text=ALT, languages=["cy", "en"],
        actor="alice", now=NOW,
    )
    posts = compose(
        db, settings,
        Composition(accounts=["gwent-x"], texts={"cy": CY, "en": EN},
                    when=NOW + timedelta(days=1), images=[ImageChoice(item.sha256)]),
        actor=who("alice"), now=NOW,
    )
    review.edit(db, posts[1].id, actor=who("alice"), now=NOW, text=EN + " Thank you.")
    assert _posts(db)[1].text == EN + " Thank you."
