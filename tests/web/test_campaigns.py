"""Campaign pages: create in the form (rule builder, items side by side, occasions), the
live preview endpoint, planning after the preview diff, revisions and restore, rights."""

from __future__ import annotations

import tomllib
from typing import Any

from flask.testing import FlaskClient

from campaign import folder, store
from core.clock import FakeClock
from examples import EXAMPLE_CAMPAIGN
from posts.db import Database
from tests.helpers import who
from tests.web.conftest import all_posts, login, post, text_of

TIPS = [
    (f"Awgrym {n}: siaradwch â'ch plentyn.", f"Tip {n}: talk to your child.") for n in range(1, 7)
]


def campaign_form(**over: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "safe-online",
        "title": "Safe online",
        "start": "2027-01-04",
        "end": "2027-06-30",
        "timezone": "Europe/London",
        "accounts": ["gwent-x", "gwent-facebook"],
        "languages": ["cy", "en"],
        "bilingual": "separate",
        "welsh_first": "yes",
        "vars_shared": "helpline = 0808 800 5000",
        "vars_cy": "hashtag = #ArleinDiogel",
        "vars_en": "hashtag = #SafeOnline",
        "series-0-id": "tip",
        "series-0-title": "Weekly tip",
        "series-0-freq": "weekly",
        "series-0-interval": "1",
        "series-0-weekdays": ["TU"],
        "series-0-monthday": "1",
        "series-0-time": "19:30",
        "series-0-template": "tip",
        "series-0-tags": "safeguarding",
        "occasions-0-id": "cea-day",
        "occasions-0-title": "Child Exploitation Awareness Day",
        "occasions-0-kind": "yearly",
        "occasions-0-day": "18",
        "occasions-0-month": "3",
        "occasions-0-time": "09:00",
        "occasions-0-template": "cea-day",
        "occasions-1-id": "safer-internet-day",
        "occasions-1-title": "Safer Internet Day",
        "occasions-1-kind": "dates",
        "occasions-1-dates": "2027-02-09\n2028-02-08",
        "occasions-1-time": "10:00",
        "occasions-1-template": "sid",
    }
    for n, (cy, en) in enumerate(TIPS):
        form[f"series-0-item-{n}-cy"] = cy
        form[f"series-0-item-{n}-en"] = en
    form.update(over)
    return form


def test_a_campaign_made_in_the_form_is_a_valid_campaign_file(
    client: FlaskClient, world: Database
) -> None:
    login(client, "alice")
    response = post(client, "/campaigns/new", campaign_form())
    assert response.status_code == 303, text_of(response)
    rev = store.get_revision(world, "safe-online")
    raw = tomllib.loads(rev.text("campaign.toml"))
    series = raw["series"][0]
    assert series["rule"] == "FREQ=WEEKLY;BYDAY=TU"
    assert [i["cy"] for i in series["items"]] == [cy for cy, _ in TIPS]
    assert raw["occasions"][0]["yearly"] == "03-18"
    assert [str(d) for d in raw["occasions"][1]["dates"]] == ["2027-02-09", "2028-02-08"]
    assert raw["vars"] == {
        "helpline": "0808 800 5000",
        "cy": {"hashtag": "#ArleinDiogel"},
        "en": {"hashtag": "#SafeOnline"},
    }
    assert rev.text("templates/tip.cy.j2") == "{{ item }}"
    page = text_of(client.get("/campaigns/safe-online"))
    assert "FREQ=WEEKLY;BYDAY=TU" in page and "templates/tip.cy.j2" in page
    assert "Safe online" in text_of(client.get("/campaigns"))


def test_an_occasion_can_be_urgent_and_go_to_some_accounts_only(
    client: FlaskClient, world: Database
) -> None:
    """As a series can: the model allows both on occasions, and the form now writes them."""
    login(client, "alice")
    chosen = {"occasions-0-urgent": "on", "occasions-0-accounts": ["gwent-x"]}
    assert post(client, "/campaigns/new", campaign_form(**chosen)).status_code == 303
    raw = tomllib.loads(store.get_revision(world, "safe-online").text("campaign.toml"))
    cea, sid = raw["occasions"]
    assert (cea["urgent"], cea["accounts"]) == (True, ["gwent-x"])
    assert "urgent" not in sid and "accounts" not in sid
    page = text_of(client.get("/campaigns/safe-online"))
    assert 'name="occasions-0-urgent" checked' in page
    assert 'name="occasions-0-accounts" value="gwent-x" checked' in page
    post(client, "/campaigns/safe-online", campaign_form())  # unticked again
    raw = tomllib.loads(store.get_revision(world, "safe-online").text("campaign.toml"))
    assert "urgent" not in raw["occasions"][0] and "accounts" not in raw["occasions"][0]


def test_a_refused_form_names_the_field_and_stores_nothing(
    client: FlaskClient, world: Database
) -> None:
    login(client, "alice")
    response = post(
        client,
        "/campaigns/new",
        campaign_form(**{"occasions-0-day": "31", "occasions-0-month": "2"}),
    )
    assert response.status_code == 422
    assert "Occasion cea-day: yearly date" in text_of(response)
    response = post(client, "/campaigns/new", campaign_form(**{"series-0-time": "25:00"}))
    assert response.status_code == 422 and "series[0].time" in text_of(response)
    assert store.campaign_names(world) == []


def test_live_preview_renders_lengths_and_findings_naming_the_template(
    client: FlaskClient, world: Database
) -> None:
    login(client, "alice")
    post(client, "/campaigns/new", campaign_form())
    form = campaign_form(
        **{
            "template-tip.en": "{{ item }} " + "x" * 300 + " {{ hashtag }}",
            "template-tip.cy": "{{ item }}\n\n{{ hashtag }}",
        }
    )
    data = post(client, "/campaigns/safe-online/preview.json", form).get_json()
    assert data["error"] is None and data["posts"]
    english_x = next(p for p in data["posts"] if p["network"] == "x" and p["language"] == "en")
    assert english_x["lengths"][0]["over"] and english_x["template"] == "templates/tip.en.j2"
    assert any(p["level"] == "error" for p in english_x["problems"])
    assert '<span class="pv-hashtag">#ArleinDiogel</span>' in next(
        p["html"] for p in data["posts"] if p["language"] == "cy"
    )
    assert '<article class="pv pv-x"' in data["html"] and "too long" in data["html"]
    hostile = campaign_form(**{"template-tip.en": "{{ item }} <script>alert(1)</script>"})
    html = post(client, "/campaigns/safe-online/preview.json", hostile).get_json()["html"]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    bad = post(
        client,
        "/campaigns/safe-online/preview.json",
        campaign_form(**{"template-tip.en": "{{ itme }}"}),
    ).get_json()
    assert "templates/tip.en.j2" in bad["error"] and "itme" in bad["error"]
    assert store.get_revision(world, "safe-online").number == 1  # a preview stores nothing


def test_one_bilingual_post_gets_its_closing_part_in_the_page(
    client: FlaskClient, world: Database
) -> None:
    """Issue 14's bilingual model in the browser: the shared closing part is written in the
    page, the live preview shows it once, and a finding in the English half names the
    English template (not the Welsh one the post starts with)."""
    login(client, "alice")
    post(client, "/campaigns/new", campaign_form(bilingual="bilingual"))
    page = text_of(client.get("/campaigns/safe-online"))
    assert "templates/tip.closing.j2 (closing part, both languages)" in page
    halves = {
        "template-tip.cy": "{{ item }}{% if not closing %} {{ hashtag }}{% endif %}",
        "template-tip.en": "{{ item }} 𝐇𝐞𝐥𝐩.{% if not closing %} {{ hashtag }}{% endif %}",
        "template-tip.closing": "{{ cy.hashtag }} {{ en.hashtag }}",
    }
    data = post(
        client,
        "/campaigns/safe-online/preview.json",
        campaign_form(bilingual="bilingual", **halves),
    ).get_json()
    tip = next(p for p in data["posts"] if p["occasion"].startswith("tip/"))
    assert tip["language"] == "cy+en"
    assert '#ArleinDiogel</span> <span class="pv-hashtag">#SafeOnline' in tip["html"]
    assert tip["html"].count("#SafeOnline") == 1  # once, at the end
    fake = [p for p in tip["problems"] if "Styled letters" in str(p["message"])]
    assert fake and {p["template"] for p in fake} == {"templates/tip.en.j2"}
    assert "(templates/tip.en.j2)" in data["html"]
    # Saved, it is a file of the campaign; a form saved with it empty adds no file.
    empty = {"template-cea-day.closing": "", "template-sid.closing": ""}
    post(client, "/campaigns/safe-online", campaign_form(bilingual="bilingual", **halves, **empty))
    rev = store.get_revision(world, "safe-online")
    assert rev.text("templates/tip.closing.j2") == halves["template-tip.closing"]
    assert "templates/cea-day.closing.j2" not in rev.files  # left empty in the form


def test_plan_after_seeing_the_diff_then_replan_an_edit(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    login(client, "alice")
    post(client, "/campaigns/new", campaign_form())
    before = len(all_posts(world))
    page = text_of(client.get("/campaigns/safe-online/plan?from=2027-03-01&to=2027-03-31"))
    assert "What planning 2027-03-01 to 2027-03-31 will do" in page
    # Tuesdays in March 2027 (2, 9, 16, 23, 30) and 18 March: 6 occasions x 2 accounts x 2
    assert "<strong>24</strong> new post(s)" in page
    response = post(
        client,
        "/campaigns/safe-online/plan",
        {"from": "2027-03-01", "to": "2027-03-31", "revision": "1", "removed": "cancel"},
    )
    assert response.status_code == 303
    assert len(all_posts(world)) == before + 24
    # Weekly on Thursdays now: the Tuesday posts leave the campaign.
    post(client, "/campaigns/safe-online", campaign_form(**{"series-0-weekdays": ["TH"]}))
    page = text_of(client.get("/campaigns/safe-online/plan?from=2027-03-01&to=2027-03-31"))
    assert "<strong>20</strong> post(s) no longer in the campaign" in page
    stale = post(
        client,
        "/campaigns/safe-online/plan",
        {"from": "2027-03-01", "to": "2027-03-31", "revision": "1", "removed": "cancel"},
    )
    assert stale.status_code == 303
    assert "changed since you previewed" in text_of(client.get(stale.location))
    post(
        client,
        "/campaigns/safe-online/plan",
        {
            "from": "2027-03-01",
            "to": "2027-03-31",
            "revision": "2",
            "removed": "cancel",
            "reason": "Thursdays from now on",
        },
    )
    mine = [p for p in all_posts(world) if p.campaign == "safe-online"]
    assert sum(p.state == "cancelled" for p in mine) == 20
    assert sum(p.state == "draft" for p in mine) == 20  # 4 Thursdays and 18 March


def test_the_plan_page_names_voided_approvals_and_keeps_removed_posts_only_when_asked(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    from tests.helpers import approve_all

    untagged = {"series-0-tags": ""}  # no safeguarding rules: these tips may be approved
    login(client, "alice")
    post(client, "/campaigns/new", campaign_form(**untagged))
    march = {"from": "2027-03-01", "to": "2027-03-31"}
    post(client, "/campaigns/safe-online/plan", {**march, "revision": "1", "removed": "cancel"})
    tuesday = [p for p in all_posts(world) if p.occasion == "tip/2027-03-02"]
    approve_all(world, [p.id for p in tuesday], clock.now())
    # A new tip 3 (2 March's, counted from the campaign's start): its approved English
    # posts go back to draft, the approver named.
    edited = campaign_form(**untagged, **{"series-0-item-2-en": "Tip 3: talk, and listen."})
    post(client, "/campaigns/safe-online", edited)
    page = text_of(client.get("/campaigns/safe-online/plan?from=2027-03-01&to=2027-03-31"))
    assert "<strong>2</strong> post(s) sent back to draft for a new review (2 approval(s)" in page
    assert page.count("approval by bob voided") == 2
    post(client, "/campaigns/safe-online/plan", {**march, "revision": "2", "removed": "cancel"})
    ids = {p.id for p in tuesday}
    approve_all(
        world, [p.id for p in all_posts(world) if p.id in ids and p.state == "draft"], clock.now()
    )
    # Thursdays now: the Tuesday posts leave the campaign. No choice made: nothing done.
    post(
        client, "/campaigns/safe-online", campaign_form(**untagged, **{"series-0-weekdays": ["TH"]})
    )
    refused = post(client, "/campaigns/safe-online/plan", {**march, "revision": "3"})
    assert "Choose what happens to the posts no longer in the campaign" in text_of(
        client.get(refused.location)
    )
    assert {p.state for p in all_posts(world) if p.id in {t.id for t in tuesday}} == {"approved"}
    kept = post(
        client, "/campaigns/safe-online/plan", {**march, "revision": "3", "removed": "keep"}
    )
    assert "KEPT as asked and will still publish" in text_of(client.get(kept.location))
    states = {p.occasion: p.state for p in all_posts(world) if p.campaign == "safe-online"}
    assert states["tip/2027-03-02"] == "approved"  # kept, as asked
    assert states["tip/2027-03-09"] == "draft"  # no longer in the campaign, kept too


def test_revisions_list_view_and_restore(client: FlaskClient, world: Database) -> None:
    login(client, "alice")
    post(client, "/campaigns/new", campaign_form())
    post(client, "/campaigns/safe-online", campaign_form(title="Safer online", summary="new title"))
    page = text_of(client.get("/campaigns/safe-online/revisions"))
    assert "new title: changed campaign.toml" in page and "Restore revision 1" in page
    assert "Safe online" in text_of(client.get("/campaigns/safe-online/revisions/1"))
    post(client, "/campaigns/safe-online/revisions/1/restore")
    assert store.get_revision(world, "safe-online").number == 3
    assert 'title = "Safe online"' in store.get_revision(world, "safe-online").text("campaign.toml")


def test_editing_needs_rights_on_every_account(client: FlaskClient, world: Database) -> None:
    login(client, "dave")  # a reviewer on gwent-facebook only
    assert post(client, "/campaigns/new", campaign_form()).status_code == 403
    assert store.campaign_names(world) == []


def test_the_example_campaign_round_trips_through_the_form(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    """Saving the example's own form unchanged keeps every item, image and template."""
    store.import_folder(world, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    before = store.get_revision(world, "stop-talk-protect")
    view = folder.view(before.files)
    assert view["series"][0]["rule_parts"].freq == "daily"
    login(client, "carol")
    page = text_of(client.get("/campaigns/stop-talk-protect"))
    assert "Cofiwch dri gair" in page
    files = folder.files_from_form(_form_of(view), before.files)
    assert tomllib.loads(files["campaign.toml"].decode()) == tomllib.loads(
        before.text("campaign.toml")
    )
    assert {k: v for k, v in files.items() if k != "campaign.toml"} == {
        k: v for k, v in before.files.items() if k != "campaign.toml"
    }


def _form_of(view: dict[str, Any]) -> Any:
    """What the browser would send for the form as shown."""
    from werkzeug.datastructures import MultiDict

    info = view["info"]
    form = MultiDict()
    for key in ("name", "title", "timezone"):
        form.add(key, info.get(key, ""))
    form.add("start", str(info["start"]))
    form.add("end", str(info["end"]))
    form.add("stale_after_minutes", str(info.get("stale_after_minutes", "")))
    for a in info["accounts"]:
        form.add("accounts", a)
    for lang in view["languages"]:
        form.add("languages", lang)
    form.add("bilingual", info.get("bilingual", "separate"))
    form.add("vars_shared", view["shared_vars"])
    for lang, text in view["lang_vars"].items():
        form.add(f"vars_{lang}", text)
    for n, s in enumerate(view["series"]):
        p = f"series-{n}"
        r = s["rule_parts"]
        for k, v in (
            ("id", s["id"]),
            ("title", s.get("title", "")),
            ("freq", r.freq),
            ("interval", str(r.interval)),
            ("monthday", str(r.monthday)),
            ("custom", r.custom),
            ("time", str(s["time"])[:5]),
            ("template", s["template"]),
            ("tags", ", ".join(s.get("tags", []))),
        ):
            form.add(f"{p}-{k}", v)
        for a in s.get("accounts", []):
            form.add(f"{p}-accounts", a)
        if s.get("urgent"):
            form.add(f"{p}-urgent", "on")
        for m, item in enumerate(s["items"]):
            for lang, text in item.items():
                form.add(f"{p}-item-{m}-{lang}", text)
    for n, o in enumerate(view["occasions"]):
        p = f"occasions-{n}"
        for k, v in (
            ("id", o["id"]),
            ("title", o.get("title", "")),
            ("kind", o["kind"]),
            ("day", str(o["day"])),
            ("month", str(o["month"])),
            ("dates", o["dates_text"]),
            ("time", str(o["time"])[:5]),
            ("template", o["template"]),
            ("tags", ", ".join(o.get("tags", []))),
        ):
            form.add(f"{p}-{k}", v)
        for a in o.get("accounts", []):
            form.add(f"{p}-accounts", a)
        if o.get("urgent"):
            form.add(f"{p}-urgent", "on")
    for key, body in view["templates"].items():
        form.add(f"template-{key}", body)
    return form


def test_a_revision_downloads_as_the_folder_byte_for_byte(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    import io
    import zipfile

    store.import_folder(world, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    login(client, "alice")
    response = client.get("/campaigns/stop-talk-protect/revisions/1/export.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    files = {
        name.removeprefix("stop-talk-protect/"): archive.read(name) for name in archive.namelist()
    }
    assert files == store.read_folder(EXAMPLE_CAMPAIGN)


def test_a_campaign_pack_imports_in_the_browser_and_round_trips(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in store.read_folder(EXAMPLE_CAMPAIGN).items():
            archive.writestr(f"pack/{path}", data)
    login(client, "alice")
    response = client.post(
        "/campaigns/import",
        data={"csrf_token": _token(client), "pack": (io.BytesIO(buffer.getvalue()), "p.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and response.location.endswith("/stop-talk-protect")
    assert store.get_revision(world, "stop-talk-protect").files == store.read_folder(
        EXAMPLE_CAMPAIGN
    )
    # The downloaded pack imports as no change at all.
    again = client.get("/campaigns/stop-talk-protect/revisions/1/export.zip").data
    client.post(
        "/campaigns/import",
        data={"csrf_token": _token(client), "pack": (io.BytesIO(again), "again.zip")},
        content_type="multipart/form-data",
    )
    assert [r.number for r in store.list_revisions(world, "stop-talk-protect")] == [1]
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("campaign.toml", b"")
        archive.writestr("../outside.txt", b"x")
    bad = client.post(
        "/campaigns/import",
        data={"csrf_token": _token(client), "pack": (io.BytesIO(evil.getvalue()), "evil.zip")},
        content_type="multipart/form-data",
    )
    assert "Nothing was imported" in text_of(client.get(bad.location))


def _token(client: FlaskClient) -> str:
    from tests.web.conftest import token

    return token(client)


def test_a_language_the_form_cannot_show_is_refused_not_dropped(
    client: FlaskClient, world: Database, clock: FakeClock, tmp_path: Any
) -> None:
    """The form writes Welsh and English; a campaign also in Scottish Gaelic is refused by
    name on save, rather than losing its Gaelic items without a word."""
    from tests.helpers import write_campaign

    camp = write_campaign(tmp_path / "c")
    toml = camp / "campaign.toml"
    text = toml.read_text().replace('languages = ["en"]', 'languages = ["en", "gd"]')
    text = text.replace(
        'en = "Tip one: talk to your child."', 'en = "Tip one."\ngd = "Gliocas a h-aon."'
    )
    text = text.replace(
        'en = "Tip two: check privacy settings."', 'en = "Tip two."\ngd = "Gliocas a dhà."'
    )
    toml.write_text(text)
    (camp / "templates" / "tip.gd.j2").write_text("{{ item }}")
    store.import_folder(world, camp, actor=who("alice"), now=clock.now())
    before = store.get_revision(world, "test-campaign")
    login(client, "alice")
    form = _form_of(folder.view(before.files))
    response = post(client, "/campaigns/test-campaign", form)
    assert response.status_code == 422
    assert "Languages: this campaign is also written in &#39;gd&#39;" in text_of(response)
    assert store.get_revision(world, "test-campaign").number == before.number


def test_a_pack_naming_other_accounts_imports_once_each_is_chosen(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    """Another force's pack: a select of this force's accounts (or "leave it out") for
    each account it lacks; nothing is stored until every one is chosen."""
    import io
    import zipfile

    files = store.read_folder(EXAMPLE_CAMPAIGN)
    toml = files["campaign.toml"].decode("utf-8").replace('"gwent-', '"dyfed-')
    files["campaign.toml"] = toml.encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(f"pack/{path}", data)
    login(client, "alice")
    first = client.post(
        "/campaigns/import",
        data={"csrf_token": _token(client), "pack": (io.BytesIO(buffer.getvalue()), "dyfed.zip")},
        content_type="multipart/form-data",
    )
    page = text_of(first)
    assert first.status_code == 200 and 'name="account-dyfed-x"' in page
    assert page.count("<select") == 6 and "Leave it out" in page
    assert store.campaign_names(world) == []
    carried = page.split('name="pack_data" value="', 1)[1].split('"', 1)[0]
    chosen = {
        f"account-dyfed-{kind}": f"gwent-{kind}"
        for kind in ("x", "facebook", "bluesky", "mastodon", "instagram")
    }
    # LinkedIn not chosen yet: named, nothing stored.
    partial = post(
        client, "/campaigns/import", {"pack_data": carried, "pack_name": "dyfed.zip", **chosen}
    )
    assert partial.status_code == 400 and "dyfed-linkedin" in text_of(partial)
    assert store.campaign_names(world) == []
    done = post(
        client,
        "/campaigns/import",
        {"pack_data": carried, "pack_name": "dyfed.zip", **chosen,
         "account-dyfed-linkedin": "-"},
    )
    assert done.status_code == 303 and done.location.endswith("/stop-talk-protect")
    stored = store.get_revision(world, "stop-talk-protect").text("campaign.toml")
    assert "dyfed" not in stored and "linkedin" not in stored and "gwent-x" in stored


def test_the_media_library_lists_a_planned_campaign_image_where_it_is_used(
    client: FlaskClient, world: Database
) -> None:
    """The world planned 18 March (Child Exploitation Awareness Day, with its image)."""
    from posts.media import usage

    login(client, "alice")
    page = text_of(client.get("/media-library"))
    assert "helping-hands.jpg" in page
    uses = [u for found in usage(world).values() for u in found]
    cea = [p for p in all_posts(world) if p.occasion.startswith("cea-day")]
    assert cea and {p.id for p in cea} <= {u.post_id for u in uses}
    assert f"Used on {len(cea)} posts" in page
    assert all(f"/posts/{p.id}\"" in page for p in cea)
