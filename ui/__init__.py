"""Shared UI helpers for the Streamlit pages (maps, legend, territory picker, offline assets).

``ui.folium_map`` and ``ui.offline_assets`` import Streamlit only inside the functions that draw,
so the map builders can be used and tested without a running app.
"""
