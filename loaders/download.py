"""Downloading official files into a user cache: timeouts, retries, atomic writes, checked cache.

Nothing here runs at import time. ``fetch(url, name)`` returns a local path:

1. it GETs ``url`` through a :class:`requests.Session` with retries (3, exponential back-off on
   429/5xx and connection errors) and a (connect, read) timeout;
2. streams the body to ``<cache>/<name>.part`` and renames it to ``<cache>/<name>`` only when
   complete (``os.replace`` is atomic), so a cut download never leaves a half file in the cache;
   the SHA-256 of what was downloaded is written beside it (``<name>.sha256``, also atomically);
3. if the download fails and a cached copy exists, the copy is used only if it is *verified*
   (below), with a warning (``CachedCopyWarning``, also logged) that gives its date; otherwise it
   raises :class:`~loaders.errors.DownloadError`. With ``refresh=False`` a verified cached copy is
   returned without any request, and an unverified one is downloaded again.

**Verified cached copy**: its SHA-256 equals, in this order of precedence, the ``expected_sha256``
argument, else the checksum the pack's manifest recorded for that file
(:func:`recorded_checksums`, set by ``loaders.build_pack --download`` from the manifest's
``downloaded_copy`` entries), else the ``.sha256`` file written when it was downloaded. A copy
with none of these (put there by hand, or by an older version) is not used: a truncated or
replaced file in the cache can no longer slip into a build.

The cache directory is ``$INCLUSION_CACHE_DIR`` or the platform's user cache
(``platformdirs.user_cache_dir("inclusion-numerique")``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests
from platformdirs import user_cache_dir
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from loaders.errors import DownloadError
from loaders.sources import sha256

log = logging.getLogger(__name__)

TIMEOUT = (10, 120)  # seconds: connect, read
USER_AGENT = "inclusion-numerique-diagnostic/0.1 (+territorial digital-inclusion mapping)"
CHECKSUM_SUFFIX = ".sha256"

#: cache file name -> SHA-256 recorded by the pack's manifest (see :func:`recorded_checksums`)
_RECORDED: dict[str, str] = {}


class CachedCopyWarning(UserWarning):
    """A download failed and an older cached copy of the file is used instead."""


def cache_dir() -> Path:
    """The directory where downloaded official files are kept."""
    d = Path(os.environ.get("INCLUSION_CACHE_DIR") or user_cache_dir("inclusion-numerique"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def session(retries: int = 3) -> requests.Session:
    """A requests session with retries on connection errors, 429 and 5xx."""
    s = requests.Session()
    retry = Retry(
        total=retries,
        backoff_factor=1.0,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
    )
    s.mount("https://", HTTPAdapter(max_retries=retry))
    s.mount("http://", HTTPAdapter(max_retries=retry))
    s.headers["User-Agent"] = USER_AGENT
    return s


@contextlib.contextmanager
def recorded_checksums(checksums: Mapping[str, str]) -> Iterator[None]:
    """Within the block, cached copies named in ``checksums`` (file name → SHA-256) must match it."""
    saved = dict(_RECORDED)
    _RECORDED.update(checksums)
    try:
        yield
    finally:
        _RECORDED.clear()
        _RECORDED.update(saved)


def _checksum_path(target: Path) -> Path:
    return target.with_name(target.name + CHECKSUM_SUFFIX)


def record_checksum(target: Path, digest: str | None = None) -> str:
    """Write ``<target>.sha256`` (atomically) and return the digest."""
    digest = digest or sha256(target)
    side = _checksum_path(target)
    tmp = side.with_name(side.name + ".part")
    tmp.write_text(f"{digest}  {target.name}\n", encoding="ascii")
    os.replace(tmp, side)
    return digest


def expected_checksum(target: Path, expected_sha256: str | None = None) -> str | None:
    """What a cached copy must hash to (module docstring), or None when nothing was recorded."""
    if expected_sha256:
        return expected_sha256
    if target.name in _RECORDED:
        return _RECORDED[target.name]
    side = _checksum_path(target)
    if side.is_file():
        text = side.read_text(encoding="ascii", errors="replace").split()
        return text[0] if text and len(text[0]) == 64 else None
    return None


def cached_copy_problem(target: Path, expected_sha256: str | None = None) -> str | None:
    """Why the cached ``target`` may not be used (None when it is present and verified)."""
    if not target.is_file():
        return "no cached copy exists"
    expected = expected_checksum(target, expected_sha256)
    if expected is None:
        return f"the cached copy {target} has no recorded checksum (cannot be verified)"
    got = sha256(target)
    if got != expected:
        return f"the cached copy {target} does not match its recorded SHA-256 ({got[:12]}… instead of {expected[:12]}…)"
    return None


def _download(http: requests.Session, url: str, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    try:
        with http.get(url, stream=True, timeout=TIMEOUT) as resp:
            resp.raise_for_status()
            with open(part, "wb") as fh:
                for chunk in resp.iter_content(chunk_size=1 << 20):
                    fh.write(chunk)
                    h.update(chunk)
        # the checksum file first: a crash between the two renames leaves a stale checksum, which
        # makes the (older) cached file fail verification: never the other way round
        record_checksum(part, h.hexdigest())
        os.replace(part, target)
        os.replace(_checksum_path(part), _checksum_path(target))
    except BaseException:
        part.unlink(missing_ok=True)
        _checksum_path(part).unlink(missing_ok=True)
        raise


def fetch(url: str, name: str, *, http: requests.Session | None = None, refresh: bool = True,
          expected_sha256: str | None = None) -> Path:
    """Download ``url`` into the cache as ``name`` and return the local path.

    With ``refresh=False`` a verified cached copy is returned without any request.
    ``expected_sha256`` is what a cached copy must hash to (module docstring).
    """
    target = cache_dir() / name
    if not refresh and cached_copy_problem(target, expected_sha256) is None:
        return target
    http = http or session()
    try:
        _download(http, url, target)
        log.info("downloaded %s -> %s", url, target)
        return target
    except (requests.RequestException, OSError) as exc:
        problem = cached_copy_problem(target, expected_sha256)
        if problem is None:
            when = dt.datetime.fromtimestamp(target.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            msg = f"download of {url} failed ({exc}); using the verified cached copy of {when}: {target}"
            log.warning(msg)
            warnings.warn(msg, CachedCopyWarning, stacklevel=2)
            return target
        raise DownloadError(url, f"download failed and {problem}: {exc}", "a reachable official URL") from exc
