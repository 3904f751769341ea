"""Keep Streamlit in ``st.navigation`` mode although the page files live in ``pages/``.

Streamlit 1.67 treats an app whose main script has a sibling ``pages/`` folder as a legacy
multipage app (``PagesManager.uses_pages_directory``): a first request straight to a page URL
(``/diagnostic``) would run that page alone, without ``app.py`` (no layout, no French navigation).
The project layout keeps ``pages/`` (the owner's layout), so the flag is cleared here: ``app.py``
calls :func:`use_app_navigation` before ``st.navigation``, and every page calls it first, which
reruns through ``app.py`` when a page was reached the legacy way. Covered by the browser test
that opens ``/diagnostic`` on a fresh server. The served app clears the flag at server start
(:func:`navigation_from_server_start`), so that the server's first visit does not pay that rerun
(0,1–0,15 s); AppTest resets the flag at every run, where :func:`use_app_navigation` does the work.

Page URLs (issue #15): opened directly, ``/diagnostic`` made Streamlit's front end look for the
server under ``/diagnostic/`` first (two 404s: ``_stcore/health`` and ``_stcore/host-config``,
then a retry at the root 100 ms later): :func:`page_routes` serves the page URLs with the
server's root written into the page. ``/donnees-methode`` and unknown URLs fell back to Carte
with Streamlit's English « Page not found » dialog (shown by the front end itself):
:class:`UnknownPageRedirect` redirects an alias to its page and any other unknown one-segment
URL to the root (Carte) before the front end sees it; :func:`resolve_requested_page` maps the
aliases in a script run too (AppTest, no server in front).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlencode

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.safe_text import quoted

#: session state key: how many times a script of the app started in this session (app.py and
#: then the page each call :func:`use_app_navigation`: twice per run)
STARTS_KEY = "_script_starts"


def first_run() -> bool:
    """True during the session's first run (the browser has not drawn a page of the app yet, nor
    loaded Streamlit's code for its widgets): at most the two starts of that run are counted.
    (AppTest runs a page alone after its first run: one start per run, still counted right.)"""
    return st.session_state.get(STARTS_KEY, 0) <= 2


def navigation_from_server_start() -> None:
    """At server start (``app.py`` imported by ``streamlit run``): the legacy ``pages/`` mode off
    before any session, so the server's first visit runs ``app.py`` at once instead of paying the
    rerun of :func:`use_app_navigation` (which stays for AppTest: it resets the flag every run)."""
    PagesManager.uses_pages_directory = False


def use_app_navigation() -> None:
    """Switch off the legacy ``pages/`` mode; rerun through app.py if a page ran without it.
    Counts the script starts (:func:`first_run`)."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get("_app_navigation"):
            st.rerun()
    st.session_state["_app_navigation"] = True
    st.session_state[STARTS_KEY] = st.session_state.get(STARTS_KEY, 0) + 1


# -- page URLs (issue #15) ------------------------------------------------------------------------

#: the app's pages: (script, title, icon, url path); the first is the default (Carte, at "/")
PAGES = (
    ("pages/carte.py", "Carte", ":material/map:", "carte"),
    ("pages/orienter.py", "Orienter", ":material/directions:", "orienter"),
    ("pages/diagnostic.py", "Diagnostic", ":material/summarize:", "diagnostic"),
    ("pages/comparer.py", "Comparer", ":material/compare_arrows:", "comparer"),
    ("pages/implantation.py", "Implantation", ":material/add_location_alt:", "implantation"),
    ("pages/donnees_methode.py", "Données & méthode", ":material/menu_book:", "donnees_methode"),
)
#: other spellings of a page's URL that open it (a hyphen is what people type for a space)
PAGE_ALIASES = {"donnees-methode": "donnees_methode", "donnees": "donnees_methode", "methode": "donnees_methode"}

#: runs before Streamlit's own script: ``new URL(".", location.href)`` is the app's root for a
#: page URL (``/diagnostic`` → ``/``, ``/inclusion/diagnostic`` → ``/inclusion/``), so the front
#: end connects there at once instead of probing ``/diagnostic/_stcore/health`` first (a 404)
_BASE_SCRIPT = (
    "<script>window.__streamlit=Object.assign({},window.__streamlit,"
    '{BACKEND_BASE_URL:new URL(".",window.location.href).href});</script>'
)


def url_paths() -> tuple[str, ...]:
    """Every page's URL path (what :func:`page_routes` serves; the aliases are redirected)."""
    return tuple(p[3] for p in PAGES)


def resolve_requested_page(known: tuple[str, ...] | None = None) -> str | None:
    """Before ``st.navigation``: map an alias (``/donnees-methode``) to its page, and a name
    that reaches the script unknown (the server redirects them first) to the default page;
    returns that unknown name, or None."""
    ctx = get_script_run_ctx()
    manager = getattr(ctx, "pages_manager", None)
    if manager is None or manager.intended_page_script_hash or not manager.intended_page_name:
        return None
    name = manager.intended_page_name
    known = known or tuple(p[3] for p in PAGES)
    if name in known:
        return None
    target = PAGE_ALIASES.get(name, "")
    manager.set_script_intent("", target)  # "": the default page, without Streamlit's message
    return None if target else name


def page_html() -> bytes:
    """Streamlit's ``index.html`` with :data:`_BASE_SCRIPT` first in ``<head>`` (read once)."""
    if not _page_html:
        import streamlit

        index = Path(streamlit.__file__).parent / "static" / "index.html"
        _page_html.append(index.read_text(encoding="utf-8").replace("<head>", "<head>\n    " + _BASE_SCRIPT, 1).encode())
    return _page_html[0]


_page_html: list[bytes] = []


async def _page(_request):
    """A page URL opened directly: the front end, told where the server's root is."""
    from starlette.responses import Response

    return Response(page_html(), media_type="text/html", headers={"Cache-Control": "no-cache"})


def page_routes(base_url_path: str = "") -> list:
    """Starlette routes serving :func:`page_html` at every page URL (under ``base_url_path``)."""
    from starlette.routing import Route

    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    return [Route(f"{base}/{path}", _page, methods=["GET", "HEAD"]) for path in url_paths()]


#: single-segment paths Streamlit serves itself (never a page name)
_STREAMLIT_PATHS = frozenset({"media", "component", "static", "app", "healthz"})


class UnknownPageRedirect:
    """ASGI middleware: a GET of a one-segment URL that names no page is redirected, query
    string kept: an alias (``/donnees-methode``) to its page, anything else (``/nulle-part``) to
    the app's root. Streamlit's front end would otherwise show its English « Page not found »
    dialog (decided in the browser, out of the script's reach). Paths with a dot (files),
    starting with ``_`` (``_stcore``) or owned by Streamlit pass."""

    def __init__(self, app, base_url_path: str = "") -> None:
        self.app = app
        self.base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
        self.known = frozenset(url_paths())

    def _is_unknown_page(self, path: str) -> bool:
        if self.base and not path.startswith(self.base + "/"):
            return False
        name = path[len(self.base) + 1:]
        return bool(name) and "/" not in name and "." not in name and not name.startswith("_") \
            and name not in self.known and name not in _STREAMLIT_PATHS

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and self._is_unknown_page(scope.get("path", "")):
            from starlette.responses import RedirectResponse

            query = scope.get("query_string", b"").decode("latin-1")
            name = scope["path"][len(self.base) + 1:]
            target = PAGE_ALIASES.get(name, "")
            if not target:  # the Carte page says that the page asked for does not exist
                query = "&".join(q for q in (query, urlencode({UNKNOWN_PAGE_PARAM: unquote(name)[:MAX_PAGE_NAME]})) if q)
            await RedirectResponse(f"{self.base}/{target}" + (f"?{query}" if query else ""), status_code=307)(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: query parameter of a redirected unknown address (read once, then removed, by :func:`unknown_page_notice`)
UNKNOWN_PAGE_PARAM = "page_inconnue"
MAX_PAGE_NAME = 80


def unknown_page_notice() -> str | None:
    """The French notice for a visit redirected from an unknown address (``?page_inconnue=…``,
    :class:`UnknownPageRedirect`), the parameter then removed from the URL; None otherwise. The
    name comes from the URL: it is shortened and escaped for Markdown."""
    name = st.query_params.get(UNKNOWN_PAGE_PARAM)
    if name is None:
        return None
    del st.query_params[UNKNOWN_PAGE_PARAM]
    return f"La page {quoted(name, MAX_PAGE_NAME)} n'existe pas dans l'outil : voici la carte. Les pages sont listées à gauche."


def page_middleware(base_url_path: str = "") -> list:
    """The Starlette middleware of ``app.py``'s ``st.App``: :class:`UnknownPageRedirect`."""
    from starlette.middleware import Middleware

    return [Middleware(UnknownPageRedirect, base_url_path=base_url_path)]

