"""Rendering a message for one recipient: placeholders, escaping, CSS, the text part, tracking."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from kirje.mail.rendering import (
    MessageTemplate,
    RenderedMessage,
    html_to_text,
    recipient_values,
    render,
)

NO_RAW: frozenset[str] = frozenset()

# Seed 001, "Overwriting message content of base draft" and "Personalized HTML blocks".
SEED_HTML = (
    "<p>Thank you for your order $firstname$ $lastname$. Order number $order_num$ has been"
    " received.</p>"
)
SEED_RAW_HTML = (
    "<p>Thank you for your order $firstname$ $lastname$. Order number $order_num$ has been"
    " received:</p> $ordered_items_html$"
)
SEED_ITEMS_TABLE = """
        <table border=1>
          <tr>
            <td>ordered item</td>
            <td>amount</td>
          </tr>
          <tr>
            <td>Foo bar</td>
            <td>2</td>
          </tr>
        </table>"""
SEED_RECIPIENT = {
    "email": "recipient@mail.com",
    "firstname": "John",
    "lastname": "Doe",
    "order_num": "1234",
    "ordered_items_html": "NOHTMLENCODE:" + SEED_ITEMS_TABLE,
}


def rendered(html: str, values: dict[str, str | None], **options: object) -> RenderedMessage:
    raw_names = options.pop("raw_names", NO_RAW)
    template = MessageTemplate.compile("Subject", html, options.pop("text", None))
    return render(template, values, raw_names=raw_names, **options)  # type: ignore[arg-type]


def test_the_seed_order_confirmation_is_personalised() -> None:
    template = MessageTemplate.compile("Order received", SEED_HTML, None, None)
    message = render(template, SEED_RECIPIENT, raw_names=NO_RAW)
    assert (message.subject, message.html, message.text) == (
        "Order received",
        "<p>Thank you for your order John Doe. Order number 1234 has been received.</p>",
        "Thank you for your order John Doe. Order number 1234 has been received.",
    )


def test_the_seed_raw_block_goes_in_unescaped_without_its_prefix() -> None:
    template = MessageTemplate.compile("Order received", SEED_RAW_HTML, None, None)
    message = render(template, SEED_RECIPIENT, raw_names=frozenset({"ordered_items_html"}))
    assert message.html == (
        "<p>Thank you for your order John Doe. Order number 1234 has been received:</p> "
        + SEED_ITEMS_TABLE
    )
    assert message.text == (
        "Thank you for your order John Doe. Order number 1234 has been received:\n"
        "\n"
        "ordered item | amount\n"
        "Foo bar | 2"
    )


def test_html_takes_both_the_raw_type_and_the_prefix() -> None:
    html = "<div>$ordered_items_html$</div>"
    raw = frozenset({"ordered_items_html"})
    without_prefix = rendered(html, {"ordered_items_html": "<b>2</b>"}, raw_names=raw)
    not_raw = rendered(html, {"ordered_items_html": "NOHTMLENCODE:<b>2</b>"})
    assert without_prefix.html == "<div>&lt;b&gt;2&lt;/b&gt;</div>"
    assert not_raw.html == "<div>&lt;b&gt;2&lt;/b&gt;</div>"


def test_raw_type_names_match_whatever_their_case() -> None:
    message = rendered(
        "<div>$Items$</div>", {"items": "NOHTMLENCODE:<b>2</b>"}, raw_names=frozenset({"ITEMS"})
    )
    assert message.html == "<div><b>2</b></div>"


def test_markup_in_a_plain_property_is_escaped() -> None:
    message = rendered(
        '<p title="$firstname$">Hi $firstname$</p>',
        {"firstname": "<script>alert('x')</script>\"&"},
    )
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&amp;"
    assert message.html == f'<p title="{escaped}">Hi {escaped}</p>'
    assert message.text == "Hi <script>alert('x')</script>\"&"


def test_a_value_cannot_add_header_lines_to_the_subject() -> None:
    template = MessageTemplate.compile("Offer for $firstname$\r\n", "<p>x</p>")
    message = render(
        template, {"firstname": "NOHTMLENCODE:Ann\r\nBcc: victim@example.com\n"}, raw_names=NO_RAW
    )
    assert message.subject == "Offer for Ann  Bcc: victim@example.com   "


def test_the_subject_and_text_are_not_html_escaped() -> None:
    template = MessageTemplate.compile(
        "Tom & $firstname$", "<p>$firstname$</p>", "Hello $firstname$ <3\n$raw$"
    )
    message = render(
        template,
        {"firstname": "Jerry <jr>", "raw": "NOHTMLENCODE:<b>bold</b>"},
        raw_names=frozenset({"raw"}),
    )
    assert message.subject == "Tom & Jerry <jr>"
    assert message.text == "Hello Jerry <jr> <3\n<b>bold</b>"
    assert message.html == "<p>Jerry &lt;jr&gt;</p>"


def test_missing_none_and_empty_properties_render_empty() -> None:
    message = rendered(
        "<p>[$firstname$][$lastname$][$nickname$]</p>", {"firstname": None, "lastname": ""}
    )
    assert message.html == "<p>[][][]</p>"


def test_a_dollar_that_is_not_a_placeholder_stays_as_written() -> None:
    html = "<p>$5 off, costs 10$, $$, US$ 3 $ 4$, $$firstname$, $first-name$</p>"
    message = rendered(html, {"firstname": "Ann"})
    assert message.html == "<p>$5 off, costs 10$, $$, US$ 3 $ 4$, $Ann, $first-name$</p>"


def test_placeholders_match_property_names_whatever_their_case() -> None:
    message = rendered("<p>$FirstName$ $LASTNAME$ $city$</p>", {"firstname": "A", "City": "Oulu"})
    assert message.html == "<p>A  Oulu</p>"


def test_a_value_is_never_read_as_a_template() -> None:
    message = rendered("<p>$firstname$</p>", {"firstname": "$lastname$ {{ 7*7 }}", "lastname": "X"})
    assert message.html == "<p>$lastname$ {{ 7*7 }}</p>"


def test_email_and_sms_are_placeholders() -> None:
    values = recipient_values("aino@example.com", "+358401234567", {"firstname": "Aino"})
    template = MessageTemplate.compile("For $email$", "<p>$firstname$ $email$ $sms$</p>")
    message = render(template, values, raw_names=NO_RAW)
    assert message.subject == "For aino@example.com"
    assert message.html == "<p>Aino aino@example.com +358401234567</p>"


def test_css_is_inlined_and_placeholders_in_attributes_survive() -> None:
    html = (
        "<html><head><style>a { color: #f00 } p { margin: 0 }"
        " @media (max-width: 600px) { p { font-size: 18px } }</style></head>"
        '<body><p>Hi $firstname$</p><a href="https://example.com/?u=$email$&amp;id=$id$">Go</a>'
        '<div style="color: $brand$">x</div></body></html>'
    )
    values = {"firstname": "Ann", "email": "ann@example.com", "id": "7&8", "brand": "#123"}
    message = rendered(html, values)
    assert message.html == (
        "<html><head><style>@media (max-width: 600px) { p { font-size: 18px } } </style></head>"
        '<body><p style="margin: 0;">Hi Ann</p>'
        '<a href="https://example.com/?u=ann@example.com&amp;id=7&amp;8" style="color: #f00;">Go'
        '</a><div style="color: #123">x</div></body></html>'
    )


def test_a_raw_block_placed_inside_a_table_stays_there_through_inlining() -> None:
    html = "<style>td { padding: 2px }</style><table><tr><td>Item</td></tr>$rows$</table>"
    message = rendered(
        html, {"rows": "NOHTMLENCODE:<tr><td>Foo</td></tr>"}, raw_names=frozenset({"rows"})
    )
    assert (
        '<table><tbody><tr><td style="padding: 2px;">Item</td></tr><tr><td>Foo</td></tr>'
        "</tbody></table>"
    ) in message.html


def test_html_without_a_style_element_is_kept_as_written() -> None:
    html = "<P CLASS=x>Hi $firstname$<br/>&#36;x&#36;</P>"
    assert rendered(html, {"firstname": "Ann"}).html == "<P CLASS=x>Hi Ann<br/>&#36;x&#36;</P>"


NEWSLETTER = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Autumn news</title>
  <style>
    body { font-family: Arial, sans-serif; }
    .button { background: #0a6; color: #fff; }
  </style>
</head>
<body>
  <div style="display:none;max-height:0">Our best autumn offers &zwnj;&nbsp;&zwnj;&nbsp;</div>
  <table width="100%" cellpadding="0" cellspacing="0">
    <tr>
      <td><img src="https://example.com/logo.png" alt="Example Shop"></td>
      <td align="right"><a href="https://example.com/web?u=$email$">View in browser</a></td>
    </tr>
  </table>
  <h1>Hello   $firstname$!</h1>
  <p>Autumn is here, and so are our
     new <strong>boots</strong> &amp; coats.<br>Prices from 49&nbsp;&euro;.</p>
  <ul>
    <li>Boots &ndash; 20% off</li>
    <li>Coats
      <ol><li>Wool</li><li>Down</li></ol>
    </li>
  </ul>
  <table border="1">
    <tr><th>Product</th><th>Price</th></tr>
    <tr><td>Boots</td><td>49 &euro;</td></tr>
  </table>
  <p><a class="button" href="https://example.com/shop?utm_source=news&amp;utm_medium=email">Shop
     now</a></p>
  <hr>
  <p>Questions? <a href="mailto:help@example.com">help@example.com</a> or
     <a href="tel:+358401234567">call us</a>.</p>
  <script>document.write("not text")</script>
  <!-- a comment -->
  <p><a href="https://example.com/unsubscribe?u=$email$">Unsubscribe</a></p>
</body>
</html>"""

NEWSLETTER_TEXT = """Example Shop | View in browser (https://example.com/web?u=aino@example.com)

Hello Aino!

Autumn is here, and so are our new boots & coats.
Prices from 49 €.

- Boots – 20% off
- Coats
  1. Wool
  2. Down

Product | Price
Boots | 49 €

Shop now (https://example.com/shop?utm_source=news&utm_medium=email)

-----

Questions? help@example.com or call us (+358401234567).

Unsubscribe (https://example.com/unsubscribe?u=aino@example.com)"""


def test_the_text_part_of_a_newsletter_is_readable() -> None:
    template = MessageTemplate.compile("News", NEWSLETTER)
    values = recipient_values("aino@example.com", None, {"firstname": "Aino"})
    assert render(template, values, raw_names=NO_RAW).text == NEWSLETTER_TEXT


def test_html_to_text_decodes_entities_and_collapses_whitespace() -> None:
    assert html_to_text("<p>a &lt;b&gt;\n\n   c&#36;</p><p></p><div>d</div>") == "a <b> c$\n\nd"


def test_an_html_block_reads_as_text_in_a_text_part_made_from_html() -> None:
    message = rendered(
        "<p>Your items:</p>$items$",
        {"items": "NOHTMLENCODE:<ul><li>Foo &amp; bar</li></ul>"},
        raw_names=frozenset({"items"}),
    )
    assert message.text == "Your items:\n\n- Foo & bar"


TRACKED = """<html><body>
<a href="https://example.com/a?x=1&amp;y=2">A</a>
<a href='https://example.com/p?u=$email$'>P</a>
<a href="$link$">L</a>
<a href="$link$">L again</a>
<a href="https://example.com/a?x=1&amp;y=2">A again</a>
<a href="mailto:help@example.com">M</a>
<a href="tel:+358401234567">T</a>
<a href="#top">Top</a>
<a href="https://example.com/private" data-kirje-notrack>N</a>
</body></html>"""


def test_links_are_listed_once_each_as_written() -> None:
    template = MessageTemplate.compile("S", TRACKED)
    assert template.links == (
        "https://example.com/a?x=1&y=2",
        "https://example.com/p?u=$email$",
        "$link$",
    )


def test_tracked_links_are_rewritten_per_recipient_after_substitution() -> None:
    template = MessageTemplate.compile("S", TRACKED)
    calls: list[tuple[int, str]] = []

    def rewrite(index: int, url: str) -> str:
        calls.append((index, url))
        return f"https://t.example.com/c?i={index}&n={len(calls)}"

    values = {"email": "o'neil@example.com", "link": "https://shop.example.com/?a=1&b=2"}
    message = render(template, values, raw_names=NO_RAW, link_rewriter=rewrite)
    assert calls == [
        (0, "https://example.com/a?x=1&y=2"),
        (1, "https://example.com/p?u=o'neil@example.com"),
        (2, "https://shop.example.com/?a=1&b=2"),
        (2, "https://shop.example.com/?a=1&b=2"),
        (0, "https://example.com/a?x=1&y=2"),
    ]
    assert (
        message.html
        == """<html><body>
<a href="https://t.example.com/c?i=0&amp;n=1">A</a>
<a href="https://t.example.com/c?i=1&amp;n=2">P</a>
<a href="https://t.example.com/c?i=2&amp;n=3">L</a>
<a href="https://t.example.com/c?i=2&amp;n=4">L again</a>
<a href="https://t.example.com/c?i=0&amp;n=5">A again</a>
<a href="mailto:help@example.com">M</a>
<a href="tel:+358401234567">T</a>
<a href="#top">Top</a>
<a href="https://example.com/private" data-kirje-notrack>N</a>
</body></html>"""
    )


def test_without_a_rewriter_links_keep_their_substituted_urls() -> None:
    template = MessageTemplate.compile("S", "<a href='$link$?q=\"x\"'>L</a>")
    message = render(template, {"link": "https://e.com/?a=<1>"}, raw_names=NO_RAW)
    assert message.html == '<a href="https://e.com/?a=&lt;1&gt;?q=&quot;x&quot;">L</a>'


def test_a_placeholder_link_that_is_not_web_is_not_rewritten() -> None:
    template = MessageTemplate.compile("S", '<a href="$link$">L</a>')
    message = render(
        template,
        {"link": "mailto:a@example.com"},
        raw_names=NO_RAW,
        link_rewriter=lambda index, url: "https://t.example.com/",
    )
    assert message.html == '<a href="mailto:a@example.com">L</a>'


def test_the_open_pixel_goes_before_the_body_end_or_at_the_end() -> None:
    pixel = (
        '<img src="https://t.example.com/o?m=1&amp;r=2" width="1" height="1" alt="" border="0" '
        'style="display:block;width:1px;height:1px;border:0">'
    )
    url = "https://t.example.com/o?m=1&r=2"
    document = rendered("<html><body><p>x</p></body></html>", {}, open_pixel_url=url)
    fragment = rendered("<p>x</p>", {}, open_pixel_url=url)
    assert document.html == f"<html><body><p>x</p>{pixel}</body></html>"
    assert fragment.html == f"<p>x</p>{pixel}"


def test_the_preheader_is_the_hidden_first_element_of_the_body() -> None:
    template = MessageTemplate.compile(
        "S", '<html><body class="x"><p>Hi</p></body></html>', None, "Deals for $firstname$ <3"
    )
    message = render(template, {"firstname": "<Ann>"}, raw_names=NO_RAW)
    body = message.html.split('<body class="x">', 1)[1]
    assert body.startswith('<span style="display:none!important;')
    assert body.split(">", 1)[1].startswith("Deals for &lt;Ann&gt; &lt;3</span><p>Hi</p>")
    assert message.text == "Hi"


class _Reading(HTMLParser):
    """What a browser would make of a document: its tags, attributes and text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


PROPERTY_HTML = (
    '<table><tr><td title="$firstname$">$firstname$</td><td>$lastname$</td></tr></table>'
    '<a href="https://example.com/?n=$lastname$">$city$</a>'
)
any_value = st.one_of(st.text(), st.text().map(lambda text: "NOHTMLENCODE:" + text))


@given(firstname=any_value, lastname=any_value, city=any_value)
def test_a_plain_property_value_is_always_read_back_as_text(
    firstname: str, lastname: str, city: str
) -> None:
    template = MessageTemplate.compile("S", PROPERTY_HTML)
    values = {"firstname": firstname, "lastname": lastname, "city": city}
    reading = _Reading(render(template, values, raw_names=frozenset({"other"})).html)
    shown = {name: value.removeprefix("NOHTMLENCODE:") for name, value in values.items()}
    assert reading.tags == [
        ("table", []),
        ("tr", []),
        ("td", [("title", shown["firstname"])]),
        ("td", []),
        ("a", [("href", "https://example.com/?n=" + shown["lastname"])]),
    ]
    assert "".join(reading.text) == shown["firstname"] + shown["lastname"] + shown["city"]


@given(
    values=st.dictionaries(st.sampled_from(["firstname", "Lastname", "raw", "x"]), any_value),
    subject=st.text(),
)
def test_rendering_is_deterministic_and_subjects_stay_one_line(
    values: dict[str, str], subject: str
) -> None:
    html = "<p>$firstname$ $lastname$ $raw$ $x$</p><a href='https://e.com/$x$'>x</a>"
    first = MessageTemplate.compile(subject + " $firstname$", html, None, "$x$")
    second = MessageTemplate.compile(subject + " $firstname$", html, None, "$x$")
    options = {"raw_names": frozenset({"raw"}), "link_rewriter": lambda i, url: url + "#t"}
    message = render(first, values, **options)  # type: ignore[arg-type]
    assert render(first, values, **options) == message  # type: ignore[arg-type]
    assert render(second, values, **options) == message  # type: ignore[arg-type]
    assert len(message.subject.splitlines()) <= 1
