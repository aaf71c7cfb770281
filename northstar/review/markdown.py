"""Markdown in change descriptions, review bodies and comments, rendered safely.

Two layers, so that one mistake does not become an injection:
1. markdown-it-py with raw HTML turned off: ``<script>`` typed into a comment comes out as
   the text ``<script>``; its link validator drops ``javascript:``/``vbscript:``/``data:``.
2. nh3 (the Ammonia sanitiser) cleans the result against a short allowlist of tags,
   attributes and URL schemes, and marks every link ``rel="nofollow noopener noreferrer"``.

Images are not rendered: an image in a comment would make every reader's browser fetch a
URL of the commenter's choosing (tracking, or requests into the LAN).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# Beyond this the text is shown as-is in a <pre>: rendering megabytes is slow for no benefit.
MAX_MARKDOWN = 200_000

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "strong",
        "em",
        "s",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable(["image"])
    return md


def _sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        # Table alignment comes as style="text-align:…"; nothing else may pass.
        filter_style_properties={"text-align"},
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """``text`` as sanitised HTML, safe to insert into a page as it is."""
    if not text:
        return ""
    if len(text) > MAX_MARKDOWN:
        return _sanitize("<pre>" + nh3.clean_text(text) + "</pre>")
    return _sanitize(_parser().render(text))
