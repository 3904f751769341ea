"""Diagnostic territorial de l'inclusion numérique — Streamlit entry point.

    streamlit run app.py

Pages: Carte (default), Orienter, Diagnostic, Comparer, Implantation, Données & méthode. The pages are thin:
they pick, call the core (``indicators``, ``planning``) through cached wrappers in ``ui`` and
display. Everything runs on the embedded pack (``geodata/pack``), with no network.

This file is read twice. ``streamlit run`` finds the ``st.App`` below and imports this module
once at server start (``__name__ == "app"``): the server then serves the page URLs itself
(``ui.navigation.page_routes``: no 404 when a page's URL is opened directly) and warms the
default view's caches before the first visit (``ui.warmup``), with glibc's malloc limited to
two arenas (``ui.server_memory``). Every session
then runs it as its script (``__name__ == "__main__"``, also under AppTest): :func:`main`.
"""

import streamlit as st

from ui import navigation

#: the longest a session waits for the server's warm-up (it normally ends in a few seconds)
WARMUP_WAIT_S = 30.0
#: the sidebar's starting width in pixels (Streamlit accepts 200–600)
SIDEBAR_WIDTH_PX = 340


def main() -> None:
    """The script every session runs: page setup, then the page the URL asks for."""
    from ui.server_socket import disable_nagle

    disable_nagle()  # once per server process: ~40 ms less per file fetched (see ui/server_socket.py)
    navigation.use_app_navigation()
    st.set_page_config(
        page_title="Inclusion numérique — diagnostic territorial",
        page_icon="🗺️",  # local favicon: otherwise the :material/…: page icon is fetched from fonts.gstatic.com
        layout="wide",
        # wider than Streamlit's default: the territory picker shows « Auvergne-Rhône-Alpes
        # (Région 84) » and most commune labels whole (the user can still drag the edge)
        initial_sidebar_state=SIDEBAR_WIDTH_PX,
    )
    from ui import warmup

    warmup.wait(timeout=WARMUP_WAIT_S)  # mid-warm-up: wait for it (the same work), never longer
    navigation.resolve_requested_page()  # aliases (/donnees-methode); unknown URLs: UnknownPageRedirect
    notice = navigation.unknown_page_notice()  # redirected from an unknown address: say so, once
    if notice:
        st.info(notice)
    pages = [
        st.Page(script, title=title, icon=icon, url_path=url, default=(i == 0))
        for i, (script, title, icon, url) in enumerate(navigation.PAGES)
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run` at server start: the ASGI app it serves
    from streamlit import config as _config

    from ui import warmup
    from ui.server_memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the sessions' threads: 2 malloc arenas, not 16 (ui/server_memory.py)
    navigation.navigation_from_server_start()  # the first visit needs no rerun to leave the pages/ mode
    app = st.App(
        __file__,
        lifespan=warmup.lifespan,
        routes=navigation.page_routes(_config.get_option("server.baseUrlPath") or ""),
        middleware=navigation.page_middleware(_config.get_option("server.baseUrlPath") or ""),
    )
