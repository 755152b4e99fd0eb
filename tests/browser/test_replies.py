"""A returning source reads the replies written to them, and sends again, with the codename."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crypto.codename import canonical_codename
from filon.db import transaction
from filon.desks import get_desk
from filon.instance import Instance
from filon.models import Source as SourceRow
from filon.models import Submission
from filon.replies import create_reply
from intake.submission import submit
from tests.browser.evidence import leaked
from tests.browser.pages import Source, Traffic
from tests.conftest import DeskSetup

pytestmark = pytest.mark.browser

REPLY = "Thank you. Can you tell us\nwhich day the trucks came?"


def earlier_report(instance: Instance, desk: DeskSetup) -> tuple[str, str]:
    """A source's first report, sent through the intake pipeline; returns receipt, codename."""
    outcome = submit(
        instance,
        desk_slug=desk.slug,
        lang="en",
        answers={"report": "Trucks leave the Bisie mine at night."},
        files=[],
        codename=None,
    )
    assert outcome.codename is not None
    return outcome.receipt, outcome.codename


def reply_to(instance: Instance, desk: DeskSetup, receipt: str, text: str) -> None:
    """An investigator's reply to the source of a submission."""
    with transaction(instance.sessions) as session:
        submission = session.scalars(
            select(Submission).where(Submission.reference == receipt)
        ).one()
        source = session.get(SourceRow, submission.source_id)
        assert source is not None
        create_reply(session, source=source, desk=get_desk(session, desk.slug), text=text)


def test_with_javascript_the_browser_opens_the_replies_itself(
    source: Source, traffic: Traffic, instance: Instance, desk: DeskSetup
) -> None:
    receipt, codename = earlier_report(instance, desk)
    reply_to(instance, desk, receipt, REPLY)
    reply_to(instance, desk, receipt, "A second question.")

    # Capitals do not matter: the browser derives the key from the canonical form.
    replies = source.read_replies(codename.upper())

    assert replies == [REPLY, "A second question."]
    # The codename travelled only inside a sealed envelope, and no reply left the server open.
    for sent in traffic.sent:
        for secret in (codename, canonical_codename(codename), codename.upper()):
            assert not leaked(sent.body, secret.encode()), sent.url
    assert [s.method for s in traffic.to("/api/v1/replies")] == ["POST"]
    assert not traffic.to("/replies", "POST")
    assert source.page.get_by_label("Your codename").input_value() == ""


def test_with_javascript_an_unknown_codename_is_told_at_the_field(
    source: Source, instance: Instance, desk: DeskSetup
) -> None:
    earlier_report(instance, desk)
    source.page.goto("/replies")
    source.wait_for_script()
    field = source.page.get_by_label("Your codename")
    field.fill("abandon " * 7 + "zoo")
    source.page.get_by_role("button", name="Open my replies").click()

    error = source.page.locator("#codename-error")
    error.wait_for(timeout=60_000)
    assert "No one has this codename" in error.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    assert "codename-error" in (field.get_attribute("aria-describedby") or "")


def test_without_javascript_the_server_opens_the_replies(
    nojs_source: Source, instance: Instance, desk: DeskSetup
) -> None:
    receipt, codename = earlier_report(instance, desk)
    reply_to(instance, desk, receipt, REPLY)

    assert nojs_source.read_replies(codename) == [REPLY]


def test_a_returning_source_sends_again_under_the_same_codename(
    source: Source, instance: Instance, desk: DeskSetup
) -> None:
    receipt, codename = earlier_report(instance, desk)

    again = source.submit_report("The trucks came again on Tuesday.", codename=codename)

    assert again.codename is None  # shown only to a new source
    assert "Your codename" not in again.text
    with instance.sessions() as session:
        first, second = (
            session.scalars(select(Submission).where(Submission.reference == ref)).one()
            for ref in (receipt, again.receipt)
        )
        assert first.source_id == second.source_id
