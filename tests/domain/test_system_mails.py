"""System mails without I/O: which built-in message and link a mail gets, how the built-in
messages render, and the confirmation link's token."""

from __future__ import annotations

import pytest

from kirje.domain.deliveries import DeliveryKind
from kirje.domain.system_mails import (
    BUILT_IN_MESSAGES,
    CONFIRMATION_LINK,
    built_in_message_for,
    carries_confirmation_link,
)
from kirje.domain.tracking_links import (
    ConfirmationTarget,
    Purpose,
    TrackingLinks,
    TrackingTokens,
    tracking_key,
)
from kirje.mail.rendering import MessageTemplate, render

LINKS = TrackingLinks("https://post.example", tracking_key(b"server key"))
WELCOME, CONFIRMATION = DeliveryKind.WELCOME, DeliveryKind.CONFIRMATION


@pytest.mark.parametrize(
    ("kind", "is_confirmed", "message", "has_link"),
    [
        (WELCOME, True, WELCOME, False),
        (WELCOME, False, CONFIRMATION, True),
        (CONFIRMATION, False, CONFIRMATION, True),
        (CONFIRMATION, True, CONFIRMATION, True),  # sent again when forced
    ],
)
def test_an_unconfirmed_contacts_welcome_asks_to_confirm(
    kind, is_confirmed, message, has_link
) -> None:
    assert built_in_message_for(kind, is_confirmed) is message
    assert carries_confirmation_link(kind, is_confirmed) is has_link


def test_the_built_in_confirmation_carries_the_link_untracked_in_both_parts() -> None:
    content = BUILT_IN_MESSAGES[CONFIRMATION].checked()
    template = MessageTemplate.compile(content.subject, content.html, content.text)
    link = LINKS.confirmation(3, 7, "bdeCyBcrkf") + "?a=1&b=2"
    rendered = render(
        template,
        {CONFIRMATION_LINK: link, "email": "aino@example.com"},
        raw_names=frozenset(),
        link_rewriter=lambda index, url: f"https://post.example/c/{index}",
    )
    escaped = link.replace("&", "&amp;")
    assert rendered.html.count(f'href="{escaped}"') == 2
    assert "/c/" not in rendered.html  # opted out of click tracking
    assert rendered.text.count(link) == 2
    assert "aino@example.com" in rendered.html and "aino@example.com" in rendered.text
    assert template.links == ()


def test_the_built_in_welcome_names_no_link() -> None:
    content = BUILT_IN_MESSAGES[WELCOME].checked()
    template = MessageTemplate.compile(content.subject, content.html, content.text)
    assert template.placeholders == {"email"}


def test_a_confirmation_token_signs_the_code_without_carrying_it() -> None:
    tokens = LINKS.tokens
    url = LINKS.confirmation(3, 1_048_576, "bdeCyBcrkf")
    assert url.startswith("https://post.example/confirm/")
    token = url.rpartition("/")[2]
    assert "bdeCyBcrkf" not in token
    target = ConfirmationTarget(3, 1_048_576)
    assert tokens.claimed_confirmation(token) == target
    assert tokens.read_confirmation(token, "bdeCyBcrkf") == target
    assert tokens.read_confirmation(token, "bdeCyBcrkg") is None  # a code made anew since
    other_key = TrackingTokens(tracking_key(b"another server"))
    assert other_key.read_confirmation(token, "bdeCyBcrkf") is None


def test_no_other_token_reads_as_a_confirmation() -> None:
    tokens = LINKS.tokens
    web_view = LINKS.web_view(3, 5, 7).rpartition("/")[2]
    assert tokens.read_web_view(web_view) is not None
    assert tokens.read_confirmation(web_view, "") is None
    assert tokens.claimed_confirmation(web_view) is None  # three ids, not two
    unsubscribe_ids = tokens.sign(Purpose.UNSUBSCRIBE, (3, 7), "code")
    assert tokens.read_confirmation(unsubscribe_ids, "code") is None
    for garbage in ("", "x", "!!!!", "A" * 200):
        assert tokens.claimed_confirmation(garbage) is None
    confirmation = LINKS.confirmation(3, 7, "code").rpartition("/")[2]
    assert tokens.read_web_view(confirmation) is None
