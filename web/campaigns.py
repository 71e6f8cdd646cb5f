"""Campaigns in the browser: the list, the create/edit form (rule builder, items side by
side, templates with a live preview), planning a date range after seeing what it will
do, and the revisions (view, restore).

Every action is a library call (``campaign.store``, ``campaign.folder``,
``posts.planning``); this module reads forms and shows results. Anyone signed in may
look; editing and planning need rights on every account of the campaign (authors and
up). The live preview renders through the same loader, expander and lint as planning.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from campaign import folder, store
from core.errors import CampaignError, NotFound, PermissionDenied, QueueError
from people.rights import Actor
from posts import planning
from posts.models import Post

from .preview import card, highlight, lengths
from .security import now, services, user

bp = Blueprint("campaigns", __name__)

# The next date of each series and occasion (every template), every account and language.
PREVIEW_ENTRIES = 12


def _revision(name: str, number: int | None = None) -> store.Revision:
    try:
        return store.get_revision(services().db, name, number)
    except NotFound:
        abort(
            404,
            description=f"There is no campaign {name!r}"
            + (f" with a revision {number}." if number else "."),
        )


def _form_context(view: dict[str, Any], **extra: Any) -> dict[str, Any]:
    s = services()
    return dict(
        view=view,
        account_names=sorted(s.settings.accounts),
        accounts=s.settings.accounts,
        weekdays=list(zip(folder.WEEKDAYS, folder.WEEKDAY_NAMES, strict=True)),
        months=folder.MONTHS,
        language_names=folder.LANGUAGE_NAMES,
        blank_rule=folder.Rule(),
        **extra,
    )


@bp.route("/campaigns")
def index() -> str:
    rows = store.list_campaigns(services().db)
    return render_template("campaigns.html", rows=rows)


#: A pack is carried in the account-mapping page as base64 (a third larger): the app's
#: 512 KiB for a request would refuse the second step of a pack near that size.
PACK_STEP_LIMIT = 1024 * 1024


@bp.before_app_request
def _pack_with_its_mapping() -> None:
    # Runs before the guard reads the form for its CSRF check.
    if request.endpoint == "campaigns.import_pack" and request.method == "POST":
        request.max_content_length = PACK_STEP_LIMIT
        request.max_form_memory_size = PACK_STEP_LIMIT


@bp.route("/campaigns/import", methods=["POST"])
def import_pack() -> str | Response | tuple[str, int]:
    """A campaign pack (the zip a revision downloads as) in, as a new revision. A pack
    naming accounts this force lacks first shows, for each, a choice of this force's
    accounts (or "leave it out"); it is imported once every one is chosen."""
    import base64
    import binascii

    from campaign import pack

    s = services()
    back = url_for("campaigns.index")
    upload = request.files.get("pack")
    carried = request.form.get("pack_data", "")
    if upload is not None and upload.filename:
        data, label = upload.read(), upload.filename
    elif carried:
        try:
            data = base64.b64decode(carried, validate=True)
        except (binascii.Error, ValueError):
            flash("Nothing was imported: the pack did not come back whole; choose it again.", "error")
            return redirect(back, 303)
        label = request.form.get("pack_name", "the pack")[:200]
    else:
        flash("Choose a campaign pack (a .zip of the campaign's folder) to import.", "error")
        return redirect(back, 303)
    try:
        files = store.read_zip(data, label)
        missing = pack.missing_accounts(files, s.settings)
        mapping: dict[str, str | None] = {}
        for theirs in missing:
            chosen = request.form.get(f"account-{theirs}", "")
            if chosen:
                mapping[theirs] = None if chosen == pack.LEAVE_OUT else chosen
        unchosen = [name for name in missing if name not in mapping]
        if unchosen:
            return _mapping_page(data, label, missing, mapping, unchosen, carried != "")
        saved = store.save_revision(
            s.db,
            files,
            actor=Actor.of(user()),
            now=now(),
            summary=f"imported from {label}",
            settings=s.settings,
            accounts=mapping,
        )
    except CampaignError as exc:
        flash(f"Nothing was imported: {exc}", "error")
        return redirect(back, 303)
    if saved.changed:
        flash(f"Imported {saved.campaign} as revision {saved.number}: {saved.summary}.", "success")
    else:
        flash(f"{saved.campaign} is unchanged (revision {saved.number}).", "success")
    return redirect(url_for("campaigns.edit", name=saved.campaign), 303)


def _mapping_page(
    data: bytes,
    label: str,
    missing: list[str],
    chosen: dict[str, str | None],
    unchosen: list[str],
    second_step: bool,
) -> tuple[str, int]:
    import base64

    from campaign import pack

    person = user()
    own = [name for name in sorted(services().settings.accounts) if person.may_act_on(name)]
    error = (
        "Nothing was imported yet: choose an account of this force, or leave it out, for "
        + ", ".join(unchosen)
        + "."
        if second_step
        else None
    )
    html = render_template(
        "campaign_import.html",
        pack_data=base64.b64encode(data).decode("ascii"),
        pack_name=label,
        missing=missing,
        chosen={k: (v if v is not None else pack.LEAVE_OUT) for k, v in chosen.items()},
        accounts=own,
        leave_out=pack.LEAVE_OUT,
        error=error,
    )
    return html, 400 if second_step else 200


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new() -> str | Response:
    if request.method == "POST":
        return _save(None, None)
    return render_template(
        "campaign_edit.html", **_form_context(folder.empty_view(), name=None, revision=None)
    )


@bp.route("/campaigns/<name>", methods=["GET", "POST"])
def edit(name: str) -> str | Response:
    revision = _revision(name)
    if request.method == "POST":
        return _save(name, revision)
    return render_template(
        "campaign_edit.html",
        **_form_context(folder.view(revision.files), name=name, revision=revision),
    )


def _save(name: str | None, revision: store.Revision | None) -> str | Response:
    s = services()
    try:
        files = folder.files_from_form(request.form, revision.files if revision else None)
        saved = store.save_revision(
            s.db,
            files,
            actor=Actor.of(user()),
            now=now(),
            summary=request.form.get("summary", "").strip() or "edited in the web",
            expect_name=name,
            based_on=revision.number if revision else None,
            settings=s.settings,
        )
    except CampaignError as exc:
        # Show the form again as submitted, with the message naming the field.
        view = folder.view(revision.files) if revision else folder.empty_view()
        flash(str(exc), "error")
        return (
            render_template(
                "campaign_edit.html",
                **_form_context(_as_submitted(view), name=name, revision=revision, error=str(exc)),
            ),
            422,
        )  # type: ignore[return-value]
    if saved.changed:
        flash(f"Saved {saved.campaign} as revision {saved.number}: {saved.summary}.", "success")
    else:
        flash("Nothing changed; no new revision.", "success")
    return redirect(url_for("campaigns.edit", name=saved.campaign), 303)


def _as_submitted(view: dict[str, Any]) -> dict[str, Any]:
    """Best effort: keep what the person typed when their form is refused."""
    try:
        files = folder.files_from_form(request.form, None)
        return folder.view(files)
    except CampaignError:
        return view


@bp.route("/campaigns/<name>/preview.json", methods=["POST"])
@bp.route("/campaigns/preview.json", methods=["POST"], defaults={"name": None})
def live_preview(name: str | None) -> Response:
    """The next posts as each network will show them, for the form as it stands now."""
    s = services()
    base = _revision(name).files if name else None
    try:
        files = folder.files_from_form(request.form, base)
        with store.scratch_campaign(files) as loaded:
            today = now().astimezone(loaded.zone).date()
            drafts = store.sample_drafts(loaded, s.settings, today)
            if not drafts:  # the campaign is over: show its first posts
                drafts = store.sample_drafts(loaded, s.settings)
    except CampaignError as exc:
        html = render_template("campaign_live.html", error=str(exc), items=[])
        return jsonify(error=str(exc), posts=[], html=html)
    first: dict[str, str] = {}  # entry id -> its first occasion in range
    shown = []
    chosen = []
    cards = []
    for draft in drafts:
        entry = draft.occasion.split("/", 1)[0]
        if entry not in first:
            if len(first) == PREVIEW_ENTRIES:
                continue
            first[entry] = draft.occasion
        if first[entry] != draft.occasion:
            continue
        account = s.settings.accounts.get(draft.account)
        chosen.append(draft)
        shown.append(
            {
                "occasion": draft.occasion,
                "title": draft.title,
                "account": draft.account,
                "network": draft.network,
                "language": draft.language,
                "template": f"templates/{draft.template}.{draft.language.split('+')[0]}.j2",
                "when": draft.due_at.astimezone(loaded.zone).strftime("%a %d %b %Y %H:%M"),
                "html": str(highlight(draft.text)),
                "image": bool(draft.media),
                "lengths": [
                    {**asdict(length), "over": length.over}
                    for length in lengths(
                        draft.text, draft.network, account.text_limit if account else None
                    )[:1]
                ],
                # Each finding names the template it comes from (a half, or the closing).
                "problems": [
                    {
                        "level": p.get("level"),
                        "message": p.get("message"),
                        "template": p.get("template"),
                    }
                    for p in draft.problems
                ],
            }
        )
    for draft, line in zip(chosen, shown, strict=True):
        # A post that is not stored, shown by the same card as the review pages.
        transient = Post(
            account=draft.account,
            network=draft.network,
            language=draft.language,
            title=draft.title,
            text=draft.text,
            due_at=draft.due_at,
            media=[
                {"path": m.path, "alt_text": m.alt_text, "sha256": m.sha256} for m in draft.media
            ],
        )
        cards.append((card(transient, s.settings), line))
    html = render_template(
        "campaign_live.html",
        error=None,
        items=cards,
        total=len(drafts),
        language_label=lambda code: " + ".join(
            folder.LANGUAGE_NAMES.get(part, part) for part in code.split("+")
        ),
    )
    return jsonify(error=None, posts=shown, total=len(drafts), html=html)


@bp.route("/campaigns/<name>/plan", methods=["GET"])
def plan_form(name: str) -> str:
    s = services()
    revision = _revision(name)
    info = folder.view(revision.files)["info"]
    start = info.get("start")
    end = info.get("end")
    start = start if isinstance(start, date) else None
    end = end if isinstance(end, date) else None
    first = _date_arg("from")
    last = _date_arg("to")
    preview = None
    error = None
    if first and last:
        if last < first:
            error = "The last day is before the first."
        else:
            try:
                _, preview = planning.preview_campaign(s.db, s.settings, name, first, last)
            except CampaignError as exc:
                error = str(exc)
    today = now().astimezone(s.zone).date()
    default_from = max(start, today) if start else today
    return render_template(
        "campaign_plan.html",
        name=name,
        revision=revision,
        info=info,
        first=first or default_from,
        last=last
        or min(end or default_from + timedelta(days=90), default_from + timedelta(days=90)),
        preview=preview,
        error=error,
    )


def _date_arg(key: str) -> date | None:
    value = request.args.get(key) or request.form.get(key)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, description=f"{key}: {value!r} is not a date (YYYY-MM-DD).")


@bp.route("/campaigns/<name>/plan", methods=["POST"])
def plan(name: str) -> Response:
    s = services()
    _revision(name)  # a 404 for a campaign that is not there
    first, last = _date_arg("from"), _date_arg("to")
    removed = request.form.get("removed", "")
    back = url_for("campaigns.plan_form", name=name) + f"?from={first}&to={last}"
    if removed not in ("cancel", "keep"):
        flash("Choose what happens to the posts no longer in the campaign.", "error")
        return redirect(back, 303)
    try:
        expected = int(request.form.get("revision", ""))
    except ValueError:
        abort(400, description="The revision you previewed was not understood.")
    try:
        _, report = planning.plan_campaign(
            s.db,
            s.settings,
            name,
            first,
            last,
            actor=Actor.of(user()),
            now=now(),
            removed=removed,  # type: ignore[arg-type]
            reason=request.form.get("reason", ""),
            expect_revision=expected,
        )
    except PermissionDenied:
        raise  # a refusal is a 403 page, as from every other door
    except (QueueError, CampaignError) as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    flash(f"Planned {name} from {first} to {last}: {report.summary()}.", "success")
    return redirect(url_for("campaigns.index"), 303)


@bp.route("/campaigns/<name>/revisions")
def revisions(name: str) -> str:
    try:
        found = store.list_revisions(services().db, name)
    except NotFound:
        abort(404, description=f"There is no campaign {name!r}.")
    return render_template("campaign_revisions.html", name=name, revisions=found)


@bp.route("/campaigns/<name>/revisions/<int:number>")
def revision(name: str, number: int) -> str:
    rev = _revision(name, number)
    texts: dict[str, str | None] = {}
    for path, data in sorted(rev.files.items()):
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            texts[path] = None
    return render_template("campaign_revision.html", name=name, rev=rev, texts=texts)


@bp.route("/campaigns/<name>/revisions/<int:number>/export.zip")
def export_zip(name: str, number: int) -> Response:
    """The revision's folder as a zip, to keep in version control or share."""
    import io
    import zipfile

    rev = _revision(name, number)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(rev.files.items()):
            archive.writestr(f"{name}/{path}", data)
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}-revision-{number}.zip"'},
    )


@bp.route("/campaigns/<name>/revisions/<int:number>/restore", methods=["POST"])
def restore(name: str, number: int) -> Response:
    s = services()
    _revision(name, number)  # a 404 for a revision that is not there
    try:
        saved = store.restore_revision(
            s.db, name, number, actor=Actor.of(user()), now=now(), settings=s.settings
        )
    except CampaignError as exc:
        flash(str(exc), "error")
        return redirect(url_for("campaigns.revisions", name=name), 303)
    flash(
        f"Restored revision {number} as revision {saved.number}."
        if saved.changed
        else f"Revision {number} is what the campaign is already; nothing changed.",
        "success",
    )
    return redirect(url_for("campaigns.revisions", name=name), 303)
