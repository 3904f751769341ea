"""Shareable view state in the URL: allow-listed keys, validated values, notices on fallback."""

from __future__ import annotations

from pathlib import Path

from ui.state import DEFAULT_TERRITORY, ViewState, from_query

KNOWN = {"epci:200040715", "com:38185", "dep:38", "reg:84"}


def test_defaults_without_parameters():
    state, notices = from_query({}, KNOWN)
    assert state == ViewState() and state.territory == DEFAULT_TERRITORY and state.level == "iris"
    assert notices == []


def test_round_trip_through_query():
    s = ViewState(territory="com:38185", level="commune", layer="unmet", scheme="natural_breaks", k=7, preset="apl", weights={"poverty": 3, "age65": 0}, compare=("dep:38", "reg:84"))
    q = s.to_query()
    assert all(isinstance(v, str) for v in q.values())
    back, notices = from_query(q, KNOWN)
    assert back == s and notices == []


def test_defaults_are_not_written_to_the_url():
    assert ViewState().to_query() == {}
    assert ViewState(level="commune").to_query() == {"lvl": "commune"}


def test_invalid_values_fall_back_with_a_notice():
    state, notices = from_query({"t": "com:99999", "lvl": "xx", "k": "42", "w": '{"poverty": 11}', "cls": "jenks"}, KNOWN)
    assert state == ViewState()
    assert len(notices) == 5
    assert any("lvl" in n for n in notices) and any("99999" in n for n in notices)


def test_unknown_keys_and_injection_are_ignored():
    state, notices = from_query({"evil": "<script>", "layer": "<script>alert(1)</script>", "w": "[1,2]"}, KNOWN)
    assert state.layer == "fragility" and state.weights == {}
    assert len(notices) == 2


def test_weights_are_integers_0_to_10():
    state, _ = from_query({"w": '{"poverty": 0, "no_4g": 10}'}, KNOWN)
    assert state.weights == {"poverty": 0, "no_4g": 10}
    state, notices = from_query({"w": '{"poverty": true}'}, KNOWN)
    assert state.weights == {} and notices


def test_compare_keeps_known_territories_only():
    state, _ = from_query({"cmp": "dep:38,com:00000,reg:84"}, KNOWN)
    assert state.compare == ("dep:38", "reg:84")


def test_hostile_links_give_escaped_notices_and_never_raise():
    """Issue #14: nested JSON, very long values, Markdown and HTML in a link."""
    state, notices = from_query({"w": "[" * 1999, "k": "9" * 5000, "layer": "[x](https://evil.example)",
                                 "t": "<img src=x>", "cls": "a" * 100_000}, KNOWN)
    assert state == ViewState()
    assert len(notices) == 5
    for n in notices:
        assert "](" not in n and "<img" not in n and len(n) < 400
    assert any("objet JSON simple" in n for n in notices)
    # a flat object is still read; nesting inside it is refused before parsing
    assert from_query({"w": '{"poverty": 4}'}, KNOWN)[0].weights == {"poverty": 4}
    assert from_query({"w": '{"poverty": {"x": 1}}'}, KNOWN)[0].weights == {}


def test_compare_keeps_the_first_four_distinct_territories_with_a_notice():
    """Streamlit's own limit message is English: the Comparer checks the count itself, and a link
    with more than 4 territories (hand-edited) keeps the first 4 instead of losing all of them."""
    known = KNOWN | {"dep:73"}
    state, notices = from_query({"cmp": "epci:200040715,com:38185,dep:38,reg:84,dep:73"}, known)
    assert state.compare == ("epci:200040715", "com:38185", "dep:38", "reg:84")
    assert len(notices) == 1 and "4 territoires au plus" in notices[0]
    assert from_query({"cmp": "dep:38,reg:84"}, known) == (ViewState(compare=("dep:38", "reg:84")), [])


def test_compare_with_a_thousand_items_is_bounded():
    state, notices = from_query({"cmp": ",".join(["dep:38"] * 1000)}, KNOWN)
    # duplicates count once; the value is cut at MAX_RAW_CHARS, leaving a last « dep:3 » the pack lacks
    assert state.compare == ("dep:38",) and not any("au plus" in n for n in notices)
    state, notices = from_query({"cmp": ",".join(["<b>"] + ["dep:38"] * 999)}, KNOWN)
    assert state.compare == () and len(notices) == 1 and "<b>" not in notices[0]


def test_unknown_page_redirect_names_the_page_and_the_notice_escapes_it():
    """/<unknown> → /?<query>&page_inconnue=<name> (ui.navigation.UnknownPageRedirect), and the
    notice shows the name literally (it comes from the address)."""
    import asyncio

    from streamlit.testing.v1 import AppTest

    from ui.navigation import UnknownPageRedirect

    sent = []

    async def app(scope, receive, send):  # the wrapped app: reached for known pages only
        sent.append(("app", scope["path"]))

    async def send(message):
        sent.append(message)

    mw = UnknownPageRedirect(app)
    scope = {"type": "http", "method": "GET", "path": "/nulle%20part", "query_string": b"t=dep:38", "headers": []}
    asyncio.run(mw(scope, None, send))
    location = dict(sent[0]["headers"])[b"location"].decode()
    assert location == "/?t=dep:38&page_inconnue=nulle+part"
    sent.clear()
    asyncio.run(mw(dict(scope, path="/donnees-methode", query_string=b""), None, send))
    assert dict(sent[0]["headers"])[b"location"] == b"/donnees_methode"  # an alias: no notice
    sent.clear()
    asyncio.run(mw(dict(scope, path="/diagnostic"), None, send))
    assert sent == [("app", "/diagnostic")]

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.query_params["page_inconnue"] = "<img src=x onerror=alert(1)> **x**"
    at.run()
    assert not at.exception
    notice = at.info[0].value
    assert notice.startswith("La page « &lt;img src=x onerror=alert\\(1\\)&gt; \\*\\*x\\*\\* » n'existe pas")
    assert "page_inconnue" not in at.query_params
