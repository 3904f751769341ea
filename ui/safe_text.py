"""Text from outside (links, uploads, imports) made safe to show in a Markdown notice.

Streamlit renders the body of ``st.warning`` / ``st.error`` / ``st.info`` / ``st.success`` /
``st.caption`` / ``st.markdown`` as GitHub-flavoured Markdown (links, images, emphasis, tables,
math between ``$``, ``:color[…]`` directives) and, with ``unsafe_allow_html``, raw HTML. A value
quoted from a crafted link or file must be shown as the characters it holds, never as markup: a
link's ``?w=`` could otherwise put a clickable « Cliquez ici pour vous reconnecter » pointing to
another site inside the app's own notice, or make the browser fetch an outside image.

:func:`escape_md` is the one helper every notice built from such text goes through:

1. control characters and line breaks become spaces (a new line could start a heading, a list, a
   table or a code block);
2. the text is cut to ``max_chars`` characters, with « … » (before escaping, so that no escape
   sequence is cut in half);
3. ``&``, ``<`` and ``>`` become HTML entities (no tag survives, with or without
   ``unsafe_allow_html``; Markdown shows the entity as the character);
4. every other ASCII punctuation character that Markdown or Streamlit give a meaning to is
   preceded by a backslash (CommonMark: any ASCII punctuation may be escaped so): links and images
   ``[…](…)``, emphasis, code, headings, tables, math ``$``, directives ``:red[…]``;
5. a zero-width space (U+200B) is put after ``:`` and ``@`` and between ``www`` and ``.``: GitHub's
   *autolink literals* (``https://…``, ``www.…``, ``name@domain``) are found in the text after
   escapes are resolved, so a backslash alone does not stop a bare address from becoming a link.

The result reads the same on screen as the original (shortened) value. Use :func:`shorten` for
text that is not rendered as Markdown (a dataframe cell, an exception message that is escaped
later), and :func:`quoted` to show a value between French quotes.
"""

from __future__ import annotations

import re

__all__ = ["MAX_NOTICE_CHARS", "MAX_VALUE_CHARS", "escape_md", "escape_md_cells", "escape_md_name", "md_link", "quoted", "shorten"]

#: a quoted value (URL parameter, cell, file name) is shown with at most this many characters
MAX_VALUE_CHARS = 80
#: a whole message built from outside text (an exception's text) is cut at this length
MAX_NOTICE_CHARS = 400

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: ASCII punctuation with a meaning in Markdown / GFM / Streamlit's renderer (``&<>`` are entities)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
#: the characters a name from the data (a territory, a zone) may hold that Markdown would read:
#: links and images need ``[``, emphasis ``*`` ``_`` ``~``, code `````, math ``$``, tables ``|``
_MD_NAME_SPECIAL = re.compile(r"([\\`*_\[\]$|~])")
_ZWSP = "\u200b"
_WWW = re.compile(r"(?i)(www)(\\?\.)")


def shorten(text: object, max_chars: int = MAX_VALUE_CHARS) -> str:
    """``text`` as one line (control characters → space) of at most ``max_chars`` characters."""
    if max_chars < 2:
        msg = f"max_chars must be at least 2, got {max_chars}"
        raise ValueError(msg)
    s = _CONTROL.sub(" ", str(text))
    return s if len(s) <= max_chars else s[: max_chars - 1] + "…"


def escape_md(text: object, max_chars: int = MAX_NOTICE_CHARS) -> str:
    """``text`` shortened (:func:`shorten`) and escaped so that Streamlit shows it literally."""
    s = shorten(text, max_chars)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = s.replace(":", ":" + _ZWSP).replace("@", "@" + _ZWSP)
    return _WWW.sub(r"\1" + _ZWSP + r"\2", s)


def quoted(value: object, max_chars: int = MAX_VALUE_CHARS) -> str:
    """« value », shortened and escaped for a Markdown notice."""
    return f"« {escape_md(value, max_chars)} »"


def escape_md_name(text: object, max_chars: int = MAX_VALUE_CHARS) -> str:
    """A name from the data (territory, zone) for a Markdown cell or header (``st.table``):
    :func:`escape_md`'s protections against links, images, HTML, emphasis and autolinks, but
    the punctuation names are made of (hyphens, apostrophes, parentheses, dots) left as it is,
    so that « Saint-Martin-d'Hères (Commune 38421) » reads and compares unchanged."""
    s = shorten(text, max_chars)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_NAME_SPECIAL.sub(r"\\\1", s)
    s = s.replace(":", ":" + _ZWSP).replace("@", "@" + _ZWSP)
    return _WWW.sub(r"\1" + _ZWSP + r"\2", s)


#: a cell of a sources / remarks table (texts of the pack's manifest: up to a few sentences)
MAX_CELL_CHARS = 1200


def escape_md_cells(table, columns=None):
    """A copy of ``table`` (pandas) whose text cells in ``columns`` (default: every text column)
    are escaped with :func:`escape_md_name`, for ``st.table``, which renders Markdown: the
    manifest's source and remark texts come from files and their metadata, so an ``*`` or a
    ``_`` there (file names, « data·inclusion_… ») must not turn into emphasis."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = table.copy()
    names = list(columns) if columns is not None else [c for c in out.columns if is_string_dtype(out[c]) or is_object_dtype(out[c])]
    for col in names:
        out[col] = out[col].astype(object).map(lambda v: escape_md_name(v, MAX_CELL_CHARS) if isinstance(v, str) else v)
    return out


#: a web address a Markdown link may point to: http(s), no space, no character that would end
#: the link's destination early (``<`` ``>``) or open markup
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::\d+)?(?:/[^\s<>\\\"'`]*)?")


def md_link(label: str, url: object) -> str:
    """A Markdown link « label » → ``url`` (``label`` is ours, escaped anyway), or '' when
    ``url`` is missing or not a plain http(s) address (``javascript:``, spaces, ``<>``…): a link
    read from a file is never trusted to build markup."""
    if not isinstance(url, str) or not _SAFE_URL.fullmatch(url.strip()):
        return ""
    return f"[{escape_md(label)}](<{url.strip()}>)"
