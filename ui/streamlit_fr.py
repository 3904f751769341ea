"""French for the words Streamlit 1.67 writes itself (it has no locale for them), by stylesheets.

A selectbox or multiselect whose search finds nothing shows « No results », hard-coded in
Streamlit's front end (``Selectbox.*.js``, ``Multiselect.*.js``). Its dropdown list is a
react-aria ``ListBox``, which marks itself ``data-empty="true"`` then: the stylesheet hides the
English text (``visibility: hidden`` also takes it out of what a screen reader reads) and writes
« Aucun résultat » in its place. The file uploader's drop zone (« Upload », « 5MB per file •
CSV, XLSX ») gets a French button and line (:data:`UPLOADER_CSS`, used by
``ui.session_places.file_uploader_fr``). What stays in English is listed in the README's known
gaps (the data grids' toolbar tooltips).
"""

from __future__ import annotations

import streamlit as st

#: the dropdowns of st.selectbox and st.multiselect, when their search finds nothing
_EMPTY_OPTION = (
    ':is([data-testid="stSelectboxVirtualDropdown"], [data-testid="stMultiSelectDropdown"])'
    ' [role="listbox"][data-empty="true"] [role="option"] > span'
)
EMPTY_LIST_TEXT = "Aucun résultat"
EMPTY_LIST_CSS = (
    f"{_EMPTY_OPTION} {{ visibility: hidden; position: relative; }}\n"
    # over the hidden text's box (its size, padding and centring are Streamlit's)
    f'{_EMPTY_OPTION}::after {{ content: "{EMPTY_LIST_TEXT}"; visibility: visible; position: absolute; inset: 0;'
    " display: flex; align-items: center; justify-content: center; white-space: nowrap; }\n"
)

#: French text of the drop zone (replaces Streamlit's English button label and limit line)
UPLOADER_CSS = """
[data-testid="stFileUploaderDropzoneInstructions"] { display: none; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] { display: none; }
[data-testid="stFileUploaderDropzone"] button span[data-has-shortcut]::after { content: "Choisir un fichier"; }
[data-testid="stFileUploaderDropzone"]::after {
  content: "ou glissez-le ici"; font-size: 0.875rem; opacity: 0.7; margin-left: 0.75rem; align-self: center;
}
"""


def add_stylesheet(css: str) -> None:
    """Add ``css`` to the page: ``st.html`` of a ``<style>`` only, which Streamlit puts in its
    event container (nothing is drawn)."""
    st.html(f"<style>{css}</style>")


def french_list_messages() -> None:
    """« Aucun résultat » in the lists' empty search. Called by the territory picker, which every
    page with a searchable list draws."""
    add_stylesheet(EMPTY_LIST_CSS)
