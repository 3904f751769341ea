"""Diagnostic territorial de l'inclusion numérique — Streamlit entry point.

    streamlit run app.py

Pages: Carte (default), Orienter, Diagnostic, Comparer, Implantation, Données & méthode. The pages are thin:
they pick, call the core (``indicators``, ``planning``) through cached wrappers in ``ui`` and
display. Everything runs on the embedded pack (``geodata/pack``), with no network.
"""

import streamlit as st

from ui.navigation import use_app_navigation
from ui.server_socket import disable_nagle

disable_nagle()  # once per server process: ~40 ms less per file fetched (see ui/server_socket.py)
use_app_navigation()
st.set_page_config(
    page_title="Inclusion numérique — diagnostic territorial",
    page_icon="🗺️",  # local favicon: otherwise the :material/…: page icon is fetched from fonts.gstatic.com
    layout="wide",
)

pages = [
    st.Page("pages/carte.py", title="Carte", icon=":material/map:", default=True, url_path="carte"),
    st.Page("pages/orienter.py", title="Orienter", icon=":material/directions:", url_path="orienter"),
    st.Page("pages/diagnostic.py", title="Diagnostic", icon=":material/summarize:", url_path="diagnostic"),
    st.Page("pages/comparer.py", title="Comparer", icon=":material/compare_arrows:", url_path="comparer"),
    st.Page("pages/implantation.py", title="Implantation", icon=":material/add_location_alt:", url_path="implantation"),
    st.Page("pages/donnees_methode.py", title="Données & méthode", icon=":material/menu_book:", url_path="donnees_methode"),
]
st.navigation(pages).run()
