"""Personalising a message for one recipient: a template compiled once, then a join per recipient.

Placeholder rules (LianaMailer's `$name$`):

* `$name$` with a name of ASCII letters, digits and `_` is a placeholder. Names match
  case-insensitively (LianaMailer property names are lower case: `$FirstName$` reads `firstname`);
  the recipient's `email` and `sms` are placeholders like any property (see `recipient_values`).
* A `$` that does not form a placeholder stays as written (`$5 off`, `costs 10$`). `$$` is not an
  escape: it stays `$$`, and `$$name$` is a `$` followed by the placeholder `$name$`, so a template
  brought over from LianaMailer keeps every character that is not a placeholder.
* A missing, None or empty value renders as empty. Values are data: a value is never scanned for
  placeholders again, and nothing in a template or a value is ever evaluated.
* In HTML a value is escaped (& < > " '). A value of a raw-type property that starts with
  `NOHTMLENCODE:` is inserted as is, without the prefix. The seed says both: the raw type "allows
  HTML content" and the prefix "is required for HTML content to work", so a raw value without the
  prefix is escaped, and so is a prefixed value of any other property (its prefix is dropped). That
  way a value typed into a subscription form can never add markup to a message or its web view.
* In the subject and a text part nothing is escaped and the prefix is dropped; in the subject, line
  breaks become spaces so a value cannot add header lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from html.parser import HTMLParser

import css_inline

from kirje.domain.errors import Invalid
from kirje.mail.mime import TemplatedText

NO_HTML_ENCODE = "NOHTMLENCODE:"

_PLACEHOLDER = re.compile(r"\$([A-Za-z0-9_]+)\$")

# Everything str.splitlines() breaks on: any of them could end a header line somewhere.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))

LinkRewriter = Callable[[int, str], str]


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    # As pieces, so that building the message encodes the template's literals once
    # (kirje.mail.mime); `html` is the text.
    html_part: TemplatedText
    text: str

    @property
    def html(self) -> str:
        return str(self.html_part)


def recipient_values(
    email: str | None, sms: str | None, properties: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The placeholder values of one recipient: its properties, its email and its sms."""
    return {**properties, "email": email, "sms": sms}


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A string cut at its placeholders: `chunks` holds the literal text, with an empty string
    at each slot, so filling it is a list copy, a few assignments and a join."""

    chunks: tuple[str, ...]
    slots: tuple[tuple[int, str], ...]
    names: frozenset[str]

    def fill(self, values: Mapping[str, str]) -> str:
        if not self.slots:
            return self.chunks[0]
        pieces = list(self.chunks)
        for position, name in self.slots:
            pieces[position] = values[name]
        return "".join(pieces)


class _Builder:
    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._slots: list[tuple[int, str]] = []
        self._literal_open = False

    def literal(self, text: str) -> None:
        if not text:
            return
        if self._literal_open:
            self._chunks[-1] += text
        else:
            self._chunks.append(text)
            self._literal_open = True

    def slot(self, name: str) -> None:
        self._slots.append((self.reserve(), name))

    def reserve(self) -> int:
        """A position filled per recipient by the caller (a link, the open pixel)."""
        self._chunks.append("")
        self._literal_open = False
        return len(self._chunks) - 1

    def build(self) -> _Compiled:
        chunks = tuple(self._chunks) or ("",)
        return _Compiled(chunks, tuple(self._slots), frozenset(name for _, name in self._slots))


def _compile_plain(text: str) -> _Compiled:
    builder = _Builder()
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        builder.literal(text[last : match.start()])
        builder.slot(match[1].lower())
        last = match.end()
    builder.literal(text[last:])
    return builder.build()


class _Sentinels:
    """Stand-ins for placeholders while the HTML goes through the CSS inliner and the text writer.

    The inliner reparses the document as a browser would, which moves text found directly inside
    a <table> out of it; a comment stays where it is. So a placeholder in character data becomes
    `<!--kirjeslot3z-->` and one anywhere else (an attribute, a comment, CSS) the bare letters and
    digits `kirjeslot3z`, which survive attribute serialisation and read as a CSS identifier. Only
    these are placeholders afterwards: `&#36;a&#36;` decoded by the inliner stays literal text.
    """

    def __init__(self, *sources: str) -> None:
        marker = "kirjeslot"
        while any(marker in source for source in sources):
            marker += "x"
        self._marker = marker
        self.bare = re.compile(rf"{marker}(\d+)z")
        self.any_form = re.compile(
            rf"<!--{marker}(\d+)z-->|&lt;!--{marker}(\d+)z--&gt;|{marker}(\d+)z"
        )
        self.names: list[str] = []

    def token(self, name: str) -> str:
        self.names.append(name.lower())
        return f"{self._marker}{len(self.names) - 1}z"

    def name_of(self, match: re.Match[str]) -> str:
        return self.names[int(match[1] or match[2] or match[3])]

    def add_to(self, builder: _Builder, text: str, *, double_quote_literals: bool = False) -> None:
        last = 0
        for match in self.any_form.finditer(text):
            builder.literal(_quoted(text[last : match.start()], double_quote_literals))
            builder.slot(self.name_of(match))
            last = match.end()
        builder.literal(_quoted(text[last:], double_quote_literals))

    def compile(self, text: str) -> _Compiled:
        builder = _Builder()
        self.add_to(builder, text)
        return builder.build()

    def restore(self, text: str) -> str:
        return self.any_form.sub(lambda match: f"${self.name_of(match)}$", text)


def _quoted(literal: str, double_quote_literals: bool) -> str:
    return literal.replace('"', "&quot;") if double_quote_literals else literal


class _PositionedParser(HTMLParser):
    def __init__(self, source: str, *, convert_charrefs: bool) -> None:
        super().__init__(convert_charrefs=convert_charrefs)
        self._line_starts = [0, *(match.end() for match in re.finditer("\n", source))]

    def source_offset(self) -> int:
        """Where the token being handled starts in the source."""
        line, column = self.getpos()
        return self._line_starts[line - 1] + column


class _CharacterData(_PositionedParser):
    """The spans of a document's character data, outside <script> and <style>."""

    def __init__(self, source: str) -> None:
        super().__init__(source, convert_charrefs=False)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.feed(source)
        self.close()

    def handle_data(self, data: str) -> None:
        if self.cdata_elem is None:
            start = self.source_offset()
            self.starts.append(start)
            self.ends.append(start + len(data))

    def holds(self, start: int, end: int) -> bool:
        index = bisect_right(self.starts, start) - 1
        return index >= 0 and end <= self.ends[index]


def _protect(html: str, sentinels: _Sentinels) -> str:
    matches = list(_PLACEHOLDER.finditer(html))
    if not matches:
        return html
    character_data = _CharacterData(html)
    pieces: list[str] = []
    last = 0
    for match in matches:
        token = sentinels.token(match[1])
        if character_data.holds(match.start(), match.end()):
            token = f"<!--{token}-->"
        pieces += [html[last : match.start()], token]
        last = match.end()
    pieces.append(html[last:])
    return "".join(pieces)


_STYLE_TAG = re.compile(r"<style\b", re.IGNORECASE)
# Stylesheets named by <link> are not fetched (rendering does no I/O), so the tags stay as written.
_INLINER = css_inline.CSSInliner(
    keep_at_rules=True, keep_link_tags=True, load_remote_stylesheets=False
)


def _inline_css(html: str) -> str:
    """The HTML with its <style> rules moved into style attributes, @media rules kept in a <style>
    in the head. HTML without a <style> is left byte for byte as written."""
    if not _STYLE_TAG.search(html):
        return html
    try:
        return _INLINER.inline(html)
    except css_inline.InlineError as error:
        raise Invalid(f"the message's CSS cannot be inlined: {error}") from None


_BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
# The usual hidden preheader: shown by inbox previews, by no client in the message itself.
_PREHEADER_STYLE = (
    "display:none!important;visibility:hidden;mso-hide:all;opacity:0;color:transparent;"
    "height:0;width:0;max-height:0;max-width:0;overflow:hidden;font-size:1px;line-height:1px"
)


def _insert_preheader(html: str, preheader: str, sentinels: _Sentinels) -> str:
    text = _PLACEHOLDER.sub(lambda match: sentinels.token(match[1]), escape(preheader))
    span = f'<span style="{_PREHEADER_STYLE}">{text}</span>'
    body = _BODY_START.search(html)
    at = body.end() if body else 0
    return html[:at] + span + html[at:]


def _open_pixel(url: str) -> str:
    return (
        f'<img src="{escape(url)}" width="1" height="1" alt="" border="0" '
        'style="display:block;width:1px;height:1px;border:0">'
    )


@dataclass(frozen=True, slots=True)
class _LinkSlot:
    position: int
    index: int
    href: _Compiled
    # The URL when the href has no placeholders, so most links are not decoded per recipient.
    static_url: str | None


_ATTRIBUTE = re.compile(r"""[\s/]*([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")


def _href_span(tag_text: str) -> tuple[int, int] | None:
    """Where the first href value (quotes included) lies in a start tag's text."""
    position = len("<a")
    while (match := _ATTRIBUTE.match(tag_text, position)) and match.end() > position:
        if match[1].lower() == "href" and match[2] is not None:
            return match.span(2)
        position = match.end()
    return None


class _Anchors(_PositionedParser):
    """The <a> start tags of a document: where each starts, its text, and whether it opts out."""

    def __init__(self, source: str) -> None:
        super().__init__(source, convert_charrefs=True)
        self.tags: list[tuple[int, str, bool]] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text()
        if tag == "a" and text is not None:
            opts_out = any(name == "data-kirje-notrack" for name, _ in attrs)
            self.tags.append((self.source_offset(), text, opts_out))


def _url_of(href: str) -> str:
    return (unescape(href) if "&" in href else href).strip()


def _is_web_url(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class _TrackedHref:
    start: int
    end: int
    quote: str
    index: int


def _tracked_hrefs(html: str, sentinels: _Sentinels) -> tuple[list[_TrackedHref], tuple[str, ...]]:
    """The hrefs click tracking may rewrite: http(s) URLs, and hrefs that start with a placeholder
    (known only per recipient, checked again after substitution). Each distinct href, written
    with its placeholders, is one link index."""
    indexes: dict[str, int] = {}
    hrefs: list[_TrackedHref] = []
    for tag_start, tag_text, opts_out in _Anchors(html).tags:
        span = _href_span(tag_text)
        if span is None or opts_out:
            continue
        value = tag_text[span[0] : span[1]]
        quote = value[0] if value[0] in "\"'" and len(value) > 1 else ""
        inner = value[1:-1] if quote else value
        as_written = unescape(sentinels.restore(inner)).strip()
        if not (_is_web_url(as_written) or sentinels.bare.match(inner.lstrip())):
            continue
        index = indexes.setdefault(as_written, len(indexes))
        hrefs.append(_TrackedHref(tag_start + span[0], tag_start + span[1], quote, index))
    return hrefs, tuple(indexes)


def _compile_html(
    html: str, sentinels: _Sentinels
) -> tuple[_Compiled, tuple[_LinkSlot, ...], int, tuple[str, ...]]:
    hrefs, links = _tracked_hrefs(html, sentinels)
    body_ends = list(_BODY_END.finditer(html))
    pixel_at = body_ends[-1].start() if body_ends else len(html)
    builder = _Builder()
    link_slots: list[_LinkSlot] = []
    pixel_position = -1
    position = 0
    for href in hrefs:
        if pixel_position < 0 and pixel_at <= href.start:
            sentinels.add_to(builder, html[position:pixel_at])
            pixel_position, position = builder.reserve(), pixel_at
        sentinels.add_to(builder, html[position : href.start])
        inner = html[href.start + len(href.quote) : href.end - len(href.quote)]
        href_builder = _Builder()
        # Every rewritten href is written in double quotes, whatever quoting it had.
        sentinels.add_to(href_builder, inner, double_quote_literals=href.quote != '"')
        href_part = href_builder.build()
        builder.literal('"')
        slot_position = builder.reserve()
        builder.literal('"')
        static_url = None if href_part.slots else _url_of(href_part.chunks[0])
        link_slots.append(_LinkSlot(slot_position, href.index, href_part, static_url))
        position = href.end
    if pixel_position < 0:
        sentinels.add_to(builder, html[position:pixel_at])
        pixel_position, position = builder.reserve(), pixel_at
    sentinels.add_to(builder, html[position:])
    compiled = builder.build()
    names = compiled.names.union(*(slot.href.names for slot in link_slots))
    compiled = _Compiled(compiled.chunks, compiled.slots, names)
    return compiled, tuple(link_slots), pixel_position, links


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A message compiled for rendering: CSS inlined, text part made, placeholders located."""

    subject_part: _Compiled
    html_part: _Compiled
    text_part: _Compiled
    link_slots: tuple[_LinkSlot, ...]
    pixel_position: int
    is_text_from_html: bool
    links: tuple[str, ...]
    """The distinct hrefs click tracking may rewrite, as written (placeholders as `$name$`);
    a link's index in this tuple is the one `render` gives the link rewriter."""

    @classmethod
    def compile(
        cls, subject: str, html: str, text: str | None = None, preheader: str | None = None
    ) -> MessageTemplate:
        sentinels = _Sentinels(html, preheader or "")
        prepared = _inline_css(_protect(html, sentinels))
        if text is None:
            text_part = sentinels.compile(_plain_text(prepared, sentinels.bare))
        else:
            text_part = _compile_plain(text)
        if preheader:
            prepared = _insert_preheader(prepared, preheader, sentinels)
        html_part, link_slots, pixel_position, links = _compile_html(prepared, sentinels)
        return cls(
            subject_part=_compile_plain(subject.translate(_LINE_BREAKS)),
            html_part=html_part,
            text_part=text_part,
            link_slots=link_slots,
            pixel_position=pixel_position,
            is_text_from_html=text is None,
            links=links,
        )

    @property
    def placeholders(self) -> frozenset[str]:
        """The (lower case) names the template reads, so a caller loads only those."""
        return self.subject_part.names | self.html_part.names | self.text_part.names


def render(
    template: MessageTemplate,
    values: Mapping[str, str | None],
    *,
    raw_names: frozenset[str],
    link_rewriter: LinkRewriter | None = None,
    open_pixel_url: str | None = None,
) -> RenderedMessage:
    """The message for one recipient. `values` are its placeholder values (`recipient_values`),
    `raw_names` the account's raw-type properties. `link_rewriter(index, url)` gives the href of
    each tracked link (index into `template.links`, the URL after substitution); `open_pixel_url`
    adds a 1x1 image before </body>."""
    resolved = _resolve(values, template.placeholders)
    raw = _lower(raw_names)
    subject_values = {name: _subject_value(resolved[name]) for name in template.subject_part.names}
    html_values = {
        name: _html_value(resolved[name], name in raw) for name in template.html_part.names
    }
    from_html = template.is_text_from_html
    text_values = {
        name: _text_value(resolved[name], name in raw, from_html)
        for name in template.text_part.names
    }
    return RenderedMessage(
        subject=template.subject_part.fill(subject_values),
        html_part=_fill_html(template, html_values, link_rewriter, open_pixel_url),
        text=template.text_part.fill(text_values),
    )


def _resolve(values: Mapping[str, str | None], names: frozenset[str]) -> dict[str, str]:
    lowered: dict[str, str | None] | None = None
    resolved = {}
    for name in names:
        value = values.get(name)
        if value is None:
            if lowered is None:
                lowered = {key.lower(): value for key, value in values.items()}
            value = lowered.get(name)
        resolved[name] = "" if value is None else value if isinstance(value, str) else str(value)
    return resolved


@lru_cache(maxsize=1024)
def _lower(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def _html_value(value: str, is_raw: bool) -> str:
    if value.startswith(NO_HTML_ENCODE):
        value = value[len(NO_HTML_ENCODE) :]
        if is_raw:
            return value
    return escape(value)


def _subject_value(value: str) -> str:
    if value.startswith(NO_HTML_ENCODE):
        value = value[len(NO_HTML_ENCODE) :]
    return value.translate(_LINE_BREAKS)


def _text_value(value: str, is_raw: bool, is_text_from_html: bool) -> str:
    if value.startswith(NO_HTML_ENCODE):
        value = value[len(NO_HTML_ENCODE) :]
        # An HTML block reads as HTML source in a text part made from the HTML: give its text.
        if is_raw and is_text_from_html:
            return html_to_text(value)
    return value


def _fill_html(
    template: MessageTemplate,
    values: Mapping[str, str],
    link_rewriter: LinkRewriter | None,
    open_pixel_url: str | None,
) -> TemplatedText:
    part = template.html_part
    pieces = list(part.chunks)
    for position, name in part.slots:
        pieces[position] = values[name]
    for link in template.link_slots:
        href = link.href.fill(values)
        if link_rewriter is not None:
            url = link.static_url if link.static_url is not None else _url_of(href)
            if _is_web_url(url):
                href = escape(link_rewriter(link.index, url))
        pieces[link.position] = href
    if open_pixel_url:
        pieces[template.pixel_position] = _open_pixel(open_pixel_url)
    return TemplatedText(part.chunks, tuple(pieces))


# The text part is written with html.parser rather than a library (html2text, inscriptis, ...):
# it must keep the placeholder stand-ins where they stand, skip what email clients hide, and lay out
# the narrow set of HTML newsletters use; that is a hundred lines, and no new dependency on the
# send path whose output we would then have to keep stable.

_SKIPPED = frozenset({"script", "style", "head", "title", "template"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track"}
    | {"wbr"}
)
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "dl", "pre", "figure"}
    | {"address"}
)
_LINES = frozenset(
    {"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "nav", "aside"}
    | {"main", "center", "form", "fieldset", "figcaption", "caption"}
)
# Zero-width characters pad preheaders and split words for layout; they are not text.
_INVISIBLE = str.maketrans(dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"))


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML message: paragraphs and line breaks kept, links as
    "text (url)", list items as "- ", table rows as lines, hidden and non-text content dropped."""
    return _plain_text(html, None)


def _plain_text(html: str, kept_comment: re.Pattern[str] | None) -> str:
    writer = _PlainTextWriter(kept_comment)
    writer.feed(html)
    writer.close()
    return writer.text()


def _is_hidden(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "hidden":
            return True
        if name == "style" and value and "display:none" in "".join(value.lower().split()):
            return True
    return False


class _PlainTextWriter(HTMLParser):
    def __init__(self, kept_comment: re.Pattern[str] | None) -> None:
        super().__init__(convert_charrefs=True)
        self._kept_comment = kept_comment
        self._lines: list[str] = []
        self._line: list[str] = []
        self._owes_space = False
        self._owes_cell_gap = False
        self._prefix = ""
        self._lists: list[list[int]] = []  # per open list: [is_ordered, next number]
        self._skipped: str | None = None
        self._skip_depth = 0
        self._preformatted = 0
        self._link: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipped is not None:
            if not (self._skipped == "head" and tag == "body"):
                self._skip_depth += tag == self._skipped
                return
            self._skipped = None
        if tag in _SKIPPED or (tag not in _VOID and _is_hidden(attrs)):
            self._skipped, self._skip_depth = tag, 1
            return
        self._open(tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if self._skipped is not None:
            if tag == self._skipped:
                self._skip_depth -= 1
                if not self._skip_depth:
                    self._skipped = None
            return
        self._close(tag)

    def handle_data(self, data: str) -> None:
        if self._skipped is not None or not data:
            return
        data = data.translate(_INVISIBLE)
        if self._preformatted:
            first, *rest = data.split("\n")
            self._write(first)
            for line in rest:
                self._end_line()
                self._write(line)
            return
        words = data.split()
        if data[:1].isspace():
            self._owes_space = True
        if words:
            self._write(" ".join(words))
            self._owes_space = data[-1].isspace()

    def handle_comment(self, data: str) -> None:
        if self._skipped is None and self._kept_comment and self._kept_comment.fullmatch(data):
            self._write(data)

    def _open(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "br":
            self._end_line()
        elif tag in ("ul", "ol"):
            self._block_break()
            start = attrs.get("start") or "1"
            self._lists.append([tag == "ol", int(start) if start.isdigit() else 1])
        elif tag == "li":
            self._new_line()
            self._prefix = "  " * max(len(self._lists) - 1, 0) + self._list_marker()
        elif tag in ("td", "th"):
            self._owes_cell_gap = bool(self._line)
        elif tag == "a":
            self._finish_link()
            self._link, self._link_text = attrs.get("href") or "", []
        elif tag == "img":
            if not _is_hidden(list(attrs.items())) and (alt := (attrs.get("alt") or "").split()):
                self._write(" ".join(alt), space_before=True)
        elif tag == "hr":
            self._new_paragraph()
            self._write("-----")
            self._new_paragraph()
        elif tag in _PARAGRAPHS:
            if tag == "pre":
                self._preformatted += 1
            self._new_paragraph()
        elif tag in _LINES:
            self._new_line()

    def _close(self, tag: str) -> None:
        if tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._block_break()
        elif tag == "a":
            self._finish_link()
        elif tag in _PARAGRAPHS:
            if tag == "pre" and self._preformatted:
                self._preformatted -= 1
            self._new_paragraph()
        elif tag in _LINES:
            self._new_line()

    def _block_break(self) -> None:
        """A list is its own paragraph, but a list inside a list item only starts a line."""
        if self._lists:
            self._new_line()
        else:
            self._new_paragraph()

    def _list_marker(self) -> str:
        if not self._lists or not self._lists[-1][0]:
            return "- "
        number = self._lists[-1][1]
        self._lists[-1][1] += 1
        return f"{number}. "

    def _finish_link(self) -> None:
        if self._link is None:
            return
        href = self._link.strip()
        text = " ".join("".join(self._link_text).split())
        self._link = None
        if not href or href.startswith("#") or href.lower().startswith("javascript:"):
            return
        shown = re.sub(r"^(?:mailto|tel):", "", href, flags=re.IGNORECASE)
        if shown != href:
            shown = shown.split("?", 1)[0]
        if not text:
            self._write(shown, space_before=True)
        elif _without_scheme(text) != _without_scheme(shown):
            self._write(f"({shown})", space_before=True)

    def _write(self, text: str, *, space_before: bool = False) -> None:
        if not text:
            return
        if self._line:
            if self._owes_cell_gap:
                self._line.append(" | ")
            elif self._owes_space or space_before:
                self._line.append(" ")
        elif self._prefix:
            self._line.append(self._prefix)
            self._prefix = ""
        if self._link is not None:
            self._link_text.append(f" {text}")
        self._line.append(text)
        self._owes_space = self._owes_cell_gap = False

    def _end_line(self) -> None:
        self._lines.append("".join(self._line).rstrip())
        self._line = []
        self._owes_space = self._owes_cell_gap = False

    def _new_line(self) -> None:
        if self._line:
            self._end_line()

    def _new_paragraph(self) -> None:
        self._new_line()
        if self._lines and self._lines[-1]:
            self._lines.append("")

    def text(self) -> str:
        self._finish_link()
        self._new_line()
        lines: list[str] = []
        for line in self._lines:
            if line or (lines and lines[-1]):
                lines.append(line)
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)


def _without_scheme(url: str) -> str:
    return re.sub(r"^[a-z]+://", "", url.lower()).rstrip("/")
