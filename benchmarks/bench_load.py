"""Load benchmark: the server under many sessions and under hostile uploads, without browsers.

    .venv/bin/python benchmarks/bench_load.py [--sessions 10 25] [--repeat 3] [--no-server]

Browsers are replaced by clients that speak Streamlit's own websocket protocol (``BackMsg`` /
``ForwardMsg`` protobufs on ``/_stcore/stream``, the upload endpoint for files): each session
costs the server what a browser's session costs it, and nothing of the browser's own rendering
is counted, so the figures are the server's. The server is the real app (``streamlit run
app.py`` on 127.0.0.1, started like the e2e tests do); its CPU time and memory are read with
psutil.

Measured (issue #14):

1. **Refused uploads, in this process** (:func:`loaders.user_places.parse_user_places` on the
   hostile files of ``tests/test_hardening.py``: the 1 000 000-row XLSX, the 1,5 GB cell, the
   400 000-field CSV…): time to the refusal, CPU, peak Python memory (tracemalloc, separate run),
   next to the reference of a legitimate 5 000-row file.
2. **Time to the first map**: from the ``rerun`` message to the ``st_folium`` element of the
   Carte page (Grenoble-Alpes-Métropole, IRIS): first session of the server (cold), then a single
   warm session (the reference), then N sessions at once (``--sessions``): sessions held (all
   connected and served), server memory per session (RSS growth ÷ N), server CPU per session,
   time to the first map (median / max) and its ratio to the single session.
3. **Another session's time to its map while the 1 000 000-row upload is being refused**: an
   "attacker" session uploads the file again and again on Données & méthode (each upload
   refused), while a new session opens Carte; interleaved with the same without the attacker
   (``--repeat`` pairs). Target: within 1.2× of the time without the attacker. Also the server's
   time to answer each refused upload (rerun with the file → refusal shown) and its RSS growth.

Ratios are against references measured in the same run; the machine's speed moves between runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import threading
import time
import tracemalloc
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

import psutil  # noqa: E402
import requests  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from loaders.errors import LoaderError  # noqa: E402
from loaders.user_places import parse_user_places, template_csv  # noqa: E402


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load("e2e_harness", REPO_DIR / "tests" / "e2e" / "conftest.py")
hostile = _load("hardening_inputs", REPO_DIR / "tests" / "test_hardening.py")

MAP_COMPONENT = "streamlit_folium.st_folium"
FINISHED = (0, 3)  # ScriptFinishedStatus: FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY
UPLOAD_LABEL = "Fichier de lieux"
TARGET_RATIO = 1.2
RECV_TIMEOUT_S = 600


# ------------------------------------------------------------------------------------------------
# part 1: refused uploads in this process
# ------------------------------------------------------------------------------------------------


def legit_csv(rows: int = 5000) -> bytes:
    cols = ["nom", "latitude", "longitude", "adresse", "code_postal", "commune", "horaires", "services"] + [f"extra{i}" for i in range(22)]
    line = ";".join(["Lieu {i}", "45.1", "5.7", "1 rue X", "38000", "Grenoble", '"Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00"', "démarches"] + ["texte libre"] * 22)
    return (";".join(cols) + "\n" + "".join(line.format(i=i) + "\n" for i in range(rows))).encode()


def legit_xlsx(rows: int = 5000) -> bytes:
    head = hostile.xlsx_row("nom", "latitude", "longitude", "adresse", "code_postal", "commune", "horaires", *[f"extra{i}" for i in range(23)])
    body = (hostile.xlsx_row(f"Lieu {i}", 45.1, 5.7, "1 rue X", 38000, "Grenoble", "Mo-Fr 09:00-12:00", *["texte libre"] * 23) for i in range(rows))
    return hostile.xlsx_bytes([head, *body])


def measure_parse(name: str, content: bytes) -> dict:
    """Time, CPU and outcome of one parse, then its peak Python memory in a second, traced run."""
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        good, _ = parse_user_places(content, name)
        outcome = f"{len(good)} lieux lus"
    except LoaderError as exc:
        outcome = f"refusé : {exc.problem}"
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    tracemalloc.start()
    try:
        parse_user_places(content, name)
    except LoaderError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"size": len(content), "wall": wall, "cpu": cpu, "peak_mb": peak / 1e6, "outcome": outcome}


def part_uploads() -> dict:
    print("\n== 1. refused uploads (in this process) ==")
    print("generating the hostile files (the 1,5 GB cell takes ~15 s to compress)…", flush=True)
    cases = hostile.hostile_uploads()
    refs = {"référence : modèle (1 ligne)": ("modele.csv", template_csv()), "référence : CSV 5 000 × 30": ("legit.csv", legit_csv()),
            "référence : XLSX 5 000 × 30": ("legit.xlsx", legit_xlsx())}
    out = {}
    print(f"{'fichier':<34} {'taille':>10} {'temps':>8} {'CPU':>8} {'mémoire max':>12}  résultat")
    for label, (name, content) in {**refs, **cases}.items():
        r = measure_parse(name, content)
        out[label] = r
        print(f"{label:<34} {r['size'] / 1e6:>8.2f} MB {r['wall']:>7.3f}s {r['cpu']:>7.3f}s {r['peak_mb']:>9.1f} MB  {r['outcome'][:70]}")
    return out


# ------------------------------------------------------------------------------------------------
# the websocket client
# ------------------------------------------------------------------------------------------------


class Session:
    """One app session driven over Streamlit's websocket protocol (what a browser tab sends)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._conn = connect(base_url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=60)
        self.ws = self._conn.__enter__()
        self.session_id: str | None = None
        self.uploaders: dict[str, str] = {}  # label -> widget id
        self.fragments: dict[str, str] = {}  # uploader label -> id of the fragment holding it
        self.alerts: list[str] = []

    def close(self) -> None:
        self._conn.__exit__(None, None, None)

    def _recv(self) -> ForwardMsg:
        msg = ForwardMsg()
        msg.ParseFromString(self.ws.recv(timeout=RECV_TIMEOUT_S))
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id
        return msg

    def run(self, page: str = "carte", query: str = "", widget_states=None, fragment_id: str = "") -> dict:
        """Run a page (or one of its fragments, as the browser does for a widget inside it);
        returns seconds to the map element (None: no map) and to the end of the run."""
        back = BackMsg()
        back.rerun_script.query_string = query
        back.rerun_script.page_name = page
        back.rerun_script.fragment_id = fragment_id
        if widget_states:
            back.rerun_script.widget_states.widgets.extend(widget_states)
        self.alerts = []
        t0 = time.perf_counter()
        self.ws.send(back.SerializeToString())
        to_map = None
        while True:
            msg = self._recv()
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                which = el.WhichOneof("type")
                if which == "component_instance" and el.component_instance.component_name == MAP_COMPONENT and to_map is None:
                    to_map = time.perf_counter() - t0
                elif which == "file_uploader":
                    self.uploaders[el.file_uploader.label] = el.file_uploader.id
                    self.fragments[el.file_uploader.label] = msg.delta.fragment_id
                elif which == "alert":
                    self.alerts.append(el.alert.body)
            elif kind == "script_finished" and msg.script_finished in FINISHED:
                return {"map": to_map, "done": time.perf_counter() - t0}

    def upload(self, label_start: str, name: str, content: bytes, page: str) -> dict:
        """Upload ``content`` into the uploader whose label starts with ``label_start`` and rerun."""
        return self.submit(*self.send_file(label_start, name, content), page)

    def submit(self, label: str, state, page: str) -> dict:
        """The rerun that hands an uploaded file to the page (what the browser sends after the upload)."""
        return self.run(page, widget_states=[state], fragment_id=self.fragments.get(label, ""))

    def send_file(self, label_start: str, name: str, content: bytes):
        """Upload the file to the server (file URL request, HTTP PUT); returns (label, widget state)."""
        label = next(label for label in self.uploaders if label.startswith(label_start))
        widget_id = self.uploaders[label]
        back = BackMsg()
        req = back.file_urls_request
        req.request_id, req.session_id = f"r{time.monotonic_ns()}", self.session_id
        req.file_names.append(name)
        self.ws.send(back.SerializeToString())
        while True:
            msg = self._recv()
            if msg.WhichOneof("type") == "file_urls_response" and msg.file_urls_response.response_id == req.request_id:
                urls = msg.file_urls_response.file_urls[0]
                break
        http = requests.Session()
        http.get(self.base_url + "/_stcore/health", timeout=30)  # sets the XSRF cookie, as the browser's health check does
        token = http.cookies.get("_streamlit_xsrf")
        url = urls.upload_url if urls.upload_url.startswith("http") else self.base_url + urls.upload_url
        resp = http.put(url, files={"file": (name, content)}, headers={"X-Xsrftoken": token} if token else {}, timeout=120)
        resp.raise_for_status()
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=widget_id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(content), urls.file_id
        info.file_urls.CopyFrom(urls)
        return label, state


class ServerMeter:
    """The server process's RSS (sampled every 20 ms in a thread) and CPU time."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def start_peak(self) -> None:
        self.peak = self.rss()
        self._stop.clear()

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, self.rss())
                time.sleep(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop_peak(self) -> int:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self.peak


# ------------------------------------------------------------------------------------------------
# part 2: sessions
# ------------------------------------------------------------------------------------------------


def one_map(base: str) -> float:
    s = Session(base)
    try:
        return s.run("carte")["map"]
    finally:
        s.close()


def concurrent_maps(base: str, meter: ServerMeter, n: int) -> dict:
    """N sessions open Carte at the same moment and stay connected until all are served."""
    sessions, times, errors = [], [None] * n, []
    barrier = threading.Barrier(n + 1)

    def client(i):
        try:
            s = Session(base)
            sessions.append(s)
            barrier.wait()
            times[i] = s.run("carte")["map"]
        except Exception as exc:  # a session the server could not hold
            errors.append(f"{type(exc).__name__}: {exc}")
            barrier.abort()

    rss0, cpu0 = meter.rss(), meter.cpu()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    meter.start_peak()
    t0 = time.perf_counter()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    peak = meter.stop_peak()
    rss1, cpu1 = meter.rss(), meter.cpu()
    held = sum(1 for s in sessions if s.ws.protocol.state.name == "OPEN")
    served = [t for t in times if t is not None]
    for s in sessions:
        s.close()
    return {"n": n, "held": held, "served": len(served), "errors": errors, "wall": wall, "map_median": statistics.median(served) if served else None,
            "map_max": max(served) if served else None, "rss_before": rss0, "rss_after": rss1, "rss_peak": peak,
            "mem_per_session": (rss1 - rss0) / n, "cpu_per_session": (cpu1 - cpu0) / n}


def map_during_one_upload(base: str, name: str, content: bytes) -> dict:
    """A new session opens Carte at the moment another session's upload reaches the page."""
    uploader = Session(base)
    uploader.run("donnees_methode")
    label, state = uploader.send_file(UPLOAD_LABEL, name, content)
    mapper = Session(base)
    barrier, out = threading.Barrier(2), {}

    def upload():
        barrier.wait()
        out["refusal"] = uploader.submit(label, state, "donnees_methode")["done"]
        out["message"] = next((a for a in uploader.alerts if a.startswith("Fichier refusé")), "")

    t = threading.Thread(target=upload)
    t.start()
    barrier.wait()
    try:
        out["map"] = mapper.run("carte")["map"]
    finally:
        t.join()
        mapper.close()
        uploader.close()
    return out


def map_under_attack(base: str, meter: ServerMeter, name: str, content: bytes) -> dict:
    """A new session's time to its map while another session uploads ``content`` again and again."""
    attacker = Session(base)
    attacker.run("donnees_methode")
    stop, refusals, rss_peaks, failed = threading.Event(), [], [], []

    def attack():
        try:
            while not stop.is_set():
                r = attacker.upload(UPLOAD_LABEL, name, content, "donnees_methode")
                refusals.append((r["done"], next((a for a in attacker.alerts if a.startswith("Fichier refusé")), "")))
        except Exception as exc:  # reported below, instead of a benchmark waiting forever
            failed.append(exc)

    meter.start_peak()
    rss0 = meter.rss()
    t = threading.Thread(target=attack)
    t.start()
    while not refusals and t.is_alive():  # the attack is under way (first upload sent and answered)
        time.sleep(0.01)
    if failed:
        raise RuntimeError(f"the upload session failed: {failed[0]!r}")
    try:
        to_map = one_map(base)
    finally:
        stop.set()
        t.join()
        attacker.close()
    rss_peaks.append(meter.stop_peak() - rss0)
    return {"map": to_map, "refusals": refusals, "rss_growth": max(rss_peaks)}


def part_server(sessions: list[int], repeat: int) -> None:
    print("\n== 2. the server under sessions (websocket clients, no browser) ==")
    with harness_server() as server:
        meter = ServerMeter(server.proc.pid)
        idle = meter.rss()
        t0 = time.perf_counter()
        cold = one_map(server.url)
        print(f"server idle RSS {idle / 1e6:.0f} MB; first session (cold: pack + indicators): map after {cold:.2f} s "
              f"({time.perf_counter() - t0:.1f} s with the connection), RSS {meter.rss() / 1e6:.0f} MB")
        single = [one_map(server.url) for _ in range(repeat)]
        ref = statistics.median(single)
        print(f"reference: one session alone, time to the first map {ref:.2f} s (median of {repeat}: {', '.join(f'{x:.2f}' for x in single)})")

        name, content = "million.xlsx", hostile.million_rows_xlsx()
        print("\n-- another session's time to its map while the 1 000 000-row XLSX is being refused --")
        alone, during = [], []
        for _ in range(repeat):  # interleaved: alone, during, alone, during…
            alone.append(one_map(server.url))
            during.append(map_during_one_upload(server.url, name, content))
        a_med, d_med = statistics.median(alone), statistics.median(r["map"] for r in during)
        during_runs = ", ".join(f"{r['map']:.2f}" for r in during)
        print(f"map alone {a_med:.2f} s (runs {', '.join(f'{x:.2f}' for x in alone)}); during the refusal {d_med:.2f} s "
              f"(runs {during_runs}) → ×{d_med / a_med:.2f} "
              f"(target ≤ ×{TARGET_RATIO}: {'met' if d_med / a_med <= TARGET_RATIO else 'missed'})")
        print(f"the refusal itself: {statistics.median(r['refusal'] for r in during):.2f} s from the rerun to the message "
              f"{during[0]['message'][:70]!r}")

        print("\n-- the same while the file is uploaded again and again (one refusal after another) --")
        base_runs, attack_runs = [], []
        for _ in range(repeat):
            base_runs.append(one_map(server.url))
            attack_runs.append(map_under_attack(server.url, meter, name, content))
        under = statistics.median(r["map"] for r in attack_runs)
        base_med = statistics.median(base_runs)
        refusals = [r for run in attack_runs for r in run["refusals"]]
        runs = ", ".join(f"{r['map']:.2f}" for r in attack_runs)
        print(f"map alone {base_med:.2f} s (runs {', '.join(f'{x:.2f}' for x in base_runs)}); during the uploads {under:.2f} s "
              f"(runs {runs}) → ×{under / base_med:.2f}")
        print(f"uploads refused meanwhile: {len(refusals)}; each answered in {statistics.median(d for d, _ in refusals):.2f} s "
              f"(median, rerun → refusal shown); server RSS growth during the uploads ≤ {max(r['rss_growth'] for r in attack_runs) / 1e6:.0f} MB")

    for n in sessions:  # a fresh server each time: no session of an earlier measure in its memory
        with harness_server() as server:
            meter = ServerMeter(server.proc.pid)
            one_map(server.url)  # cold: pack + indicators
            single = statistics.median(one_map(server.url) for _ in range(repeat))
            r = concurrent_maps(server.url, meter, n)
        print(f"\n-- {n} sessions at once (fresh server, after one cold and {repeat} warm sessions) --")
        print(f"sessions held {r['held']}/{n}, served {r['served']}/{n}{' errors: ' + '; '.join(r['errors'][:3]) if r['errors'] else ''}")
        print(f"server RSS {r['rss_before'] / 1e6:.0f} → {r['rss_after'] / 1e6:.0f} MB with the {n} sessions held (peak {r['rss_peak'] / 1e6:.0f} MB): "
              f"{r['mem_per_session'] / 1e6:.1f} MB per session ({(r['rss_peak'] - r['rss_before']) / n / 1e6:.1f} MB at the peak); "
              f"server CPU {r['cpu_per_session']:.2f} s per session")
        if r["map_median"] is not None:
            print(f"time to the first map: median {r['map_median']:.2f} s, max {r['map_max']:.2f} s "
                  f"(×{r['map_median'] / single:.1f} / ×{r['map_max'] / single:.1f} one session alone, {single:.2f} s, same server); "
                  f"all served in {r['wall']:.1f} s = {r['wall'] / n:.2f} s per session")


class harness_server:  # noqa: N801  (a context manager used like a function)
    """The app served by the e2e harness (127.0.0.1, a free port), stopped on exit."""

    def __enter__(self):
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        self.server = harness.StreamlitServer(REPO_DIR / "app.py", Path(self._tmp.name) / "streamlit.log")
        self.server.wait_ready()
        return self.server

    def __exit__(self, *exc):
        self.server.stop()
        self._tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="*", default=[10, 25], help="concurrent sessions (default 10 25)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of the single-session and upload measures")
    ap.add_argument("--no-server", action="store_true", help="only part 1 (in-process refusals)")
    args = ap.parse_args(argv)
    print(f"machine: {psutil.cpu_count()} cores, load {', '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
    part_uploads()
    if not args.no_server:
        part_server(args.sessions, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
