"""Registers as a desk sees them: mine sites and actors with their supply-chain graphs.

Sites and actors are organisation-wide, but every page lives under a desk: it shows the
shared chain links and this desk's own, and only this desk's evidence (DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from casework import chains
from casework.chains import ChainLinkRequest, InvalidChainField, Node
from casework.forms import ActorForm, ChainLinkForm, LogoutForm
from casework.graph import render_svg
from casework.inbox import member_desk
from casework.models import ActorKind, EvidenceLink
from casework.registers.minerals import BY_CODE, MINERALS
from casework.sessions import ActiveSession
from casework.web import instance, login_required, record_id
from filon.db import transaction

bp = Blueprint("registers", __name__)


def _render(template: str, staff: ActiveSession, status: int = 200, **context: object) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(), **context)
    return Response(body, status=status, mimetype="text/html")


@bp.errorhandler(InvalidChainField)
def _refused(exc: InvalidChainField) -> tuple[str, int]:
    # The message names only what the investigator typed or chose, never source content.
    return render_template("casework/case_refused.html", message=str(exc)), 400


def _node_url(slug: str) -> Callable[[Node], str]:
    def url(node: Node) -> str:
        kind, number = node.key
        if kind == "site":
            return url_for("registers.site", slug=slug, site_id=number)
        return url_for("registers.actor", slug=slug, actor_id=number)

    return url


def _query_id(name: str) -> int | None:
    """A record id from the query string: absent is None, anything but digits is a 400."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        abort(400, description=f"{name} is not a record number")
    return record_id(int(value))


def _query_kind() -> ActorKind | None:
    value = request.args.get("kind", "").strip()
    if not value:
        return None
    try:
        return ActorKind(value)
    except ValueError:
        abort(400, description=f"{value!r} is not a kind of actor")


@bp.get("/desks/<slug>/chain-links/new")
@login_required
def chain_link_form(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """The form for a chain link, pre-filled from a site (or actor) and a submission's files."""
    site_id, actor_id, to_id = _query_id("site"), _query_id("actor"), _query_id("to")
    reference = request.args.get("submission", "").strip()[:64]
    text, kind = request.args.get("q", "").strip()[:200], _query_kind()
    with transaction(instance().sessions) as session:
        desk = member_desk(session, user=staff.user, slug=slug)
        site = chains.get_site(session, site_id) if site_id is not None else None
        source = chains.get_actor(session, actor_id) if actor_id is not None else None
        chosen = chains.get_actor(session, to_id) if to_id is not None else None
        files = (
            chains.submission_files(session, user=staff.user, slug=slug, reference=reference)[1]
            if reference
            else []
        )
        found = chains.search_actors(session, text=text, kind=kind) if text or kind else []
    minerals = [BY_CODE[c] for c in (site.minerals if site else []) if c in BY_CODE]
    minerals += [m for m in MINERALS if m not in minerals]
    return _render(
        "casework/chain_link_new.html",
        staff,
        desk=desk,
        site=site,
        source=source,
        chosen=chosen,
        reference=reference.upper(),
        files=files,
        found=found,
        q=text,
        kind=kind,
        kinds=list(ActorKind),
        minerals=minerals,
        form=ChainLinkForm(reference=reference.upper()),
    )


@bp.post("/desks/<slug>/chain-links")
@login_required
def chain_link_create(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """Record the link and link the chosen files to it and to both ends, in one transaction."""
    form = ChainLinkForm()
    numbers = form.file_numbers()
    if not form.validate_on_submit() or form.to_actor.data is None or numbers is None:
        abort(400)
    link_request = ChainLinkRequest(
        from_site_id=record_id(form.from_site.data) if form.from_site.data else None,
        from_actor_id=record_id(form.from_actor.data) if form.from_actor.data else None,
        to_actor_id=record_id(form.to_actor.data),
        mineral=form.mineral.data or "",
        period_start=form.period_start.data,
        period_end=form.period_end.data,
        reference=(form.reference.data or "").strip() or None,
        numbers=numbers,
    )
    with transaction(instance().sessions) as session:
        link = chains.create_chain_link(session, user=staff.user, slug=slug, request=link_request)
        site_id, actor_id = link.from_site_id, link.from_actor_id
    if site_id is not None:
        return redirect(url_for("registers.site", slug=slug, site_id=site_id), code=303)
    return redirect(url_for("registers.actor", slug=slug, actor_id=actor_id), code=303)


@bp.get("/desks/<slug>/sites/<int:site_id>")
@login_required
def site(staff: ActiveSession, slug: str, site_id: int) -> ResponseReturnValue:
    """A mine site: register fields, visits, this desk's evidence and the downstream graph."""
    with transaction(instance().sessions) as session:
        desk = member_desk(session, user=staff.user, slug=slug)
        found = chains.get_site(session, site_id)
        visits = chains.site_visits(session, found)
        files = chains.linked_files(
            session, desk_ids=[desk.id], target=EvidenceLink.site_id == found.id
        )
        graph = chains.downstream(session, site_id=found.id, desk_ids=[desk.id])
    svg = render_svg(graph, _node_url(slug), title=f"Downstream of {found.name}")
    return _render(
        "casework/site.html",
        staff,
        desk=desk,
        site=found,
        visits=visits,
        files=files,
        graph=graph,
        svg=svg,
        minerals=BY_CODE,
    )


@bp.get("/desks/<slug>/actors")
@login_required
def actors(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """The actors of the register, searched by name and kind, with a form to add one."""
    text, kind = request.args.get("q", "").strip()[:200], _query_kind()
    with transaction(instance().sessions) as session:
        desk = member_desk(session, user=staff.user, slug=slug)
        found = chains.search_actors(session, text=text, kind=kind)
    return _render(
        "casework/actors.html",
        staff,
        desk=desk,
        actors=found,
        q=text,
        kind=kind,
        kinds=list(ActorKind),
        form=ActorForm(),
    )


@bp.post("/desks/<slug>/actors")
@login_required
def actor_create(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """Add an actor to the register."""
    form = ActorForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        made = chains.create_actor(
            session,
            user=staff.user,
            slug=slug,
            kind=form.kind.data or "",
            name=form.name.data or "",
            country=form.country.data or "",
        )
        actor_id = made.id
    return redirect(url_for("registers.actor", slug=slug, actor_id=actor_id), code=303)


@bp.get("/desks/<slug>/actors/<int:actor_id>")
@login_required
def actor(staff: ActiveSession, slug: str, actor_id: int) -> ResponseReturnValue:
    """An actor: its fields, this desk's evidence and the upstream graph back to the mines."""
    with transaction(instance().sessions) as session:
        desk = member_desk(session, user=staff.user, slug=slug)
        found = chains.get_actor(session, actor_id)
        files = chains.linked_files(
            session, desk_ids=[desk.id], target=EvidenceLink.actor_id == found.id
        )
        graph = chains.upstream(session, actor_id=found.id, desk_ids=[desk.id])
    svg = render_svg(graph, _node_url(slug), title=f"Upstream of {found.name}")
    return _render(
        "casework/actor.html", staff, desk=desk, actor=found, files=files, graph=graph, svg=svg
    )
