"""Keep Streamlit in ``st.navigation`` mode although the page files live in ``pages/``.

Streamlit 1.67 treats an app whose main script has a sibling ``pages/`` folder as a legacy
multipage app (``PagesManager.uses_pages_directory``): a first request straight to a page URL
(``/diagnostic``) would run that page alone, without ``app.py`` (no layout, no French navigation).
The project layout keeps ``pages/`` (the owner's layout), so the flag is cleared here: ``app.py``
calls :func:`use_app_navigation` before ``st.navigation``, and every page calls it first, which
reruns through ``app.py`` when a page was reached the legacy way. Covered by the browser test
that opens ``/diagnostic`` on a fresh server.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def use_app_navigation() -> None:
    """Switch off the legacy ``pages/`` mode; rerun through app.py if a page ran without it."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get("_app_navigation"):
            st.rerun()
    st.session_state["_app_navigation"] = True
