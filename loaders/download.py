"""Downloading official files into a user cache: timeouts, retries, atomic writes, cache fallback.

Nothing here runs at import time. ``fetch(url, name)`` returns a local path:

1. it GETs ``url`` through a :class:`requests.Session` with retries (3, exponential back-off on
   429/5xx and connection errors) and a (connect, read) timeout;
2. streams the body to ``<cache>/<name>.part`` and renames it to ``<cache>/<name>`` only when
   complete (``os.replace`` is atomic), so a cut download never leaves a half file in the cache;
3. if the download fails and a cached copy exists, it warns (``CachedCopyWarning``, also logged)
   that the cached copy of a given date is used; without a cached copy it raises DownloadError.

The cache directory is ``$INCLUSION_CACHE_DIR`` or the platform's user cache
(``platformdirs.user_cache_dir("inclusion-numerique")``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from pathlib import Path

import requests
from platformdirs import user_cache_dir
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from loaders.errors import DownloadError

log = logging.getLogger(__name__)

TIMEOUT = (10, 120)  # seconds: connect, read
USER_AGENT = "inclusion-numerique-diagnostic/0.1 (+territorial digital-inclusion mapping)"


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


def fetch(url: str, name: str, *, http: requests.Session | None = None, refresh: bool = True) -> Path:
    """Download ``url`` into the cache as ``name`` and return the local path.

    With ``refresh=False`` an existing cached copy is returned without any request.
    """
    target = cache_dir() / name
    if target.exists() and not refresh:
        return target
    http = http or session()
    part = target.with_name(target.name + ".part")
    try:
        with http.get(url, stream=True, timeout=TIMEOUT) as resp:
            resp.raise_for_status()
            with open(part, "wb") as fh:
                for chunk in resp.iter_content(chunk_size=1 << 20):
                    fh.write(chunk)
        os.replace(part, target)
        log.info("downloaded %s -> %s", url, target)
        return target
    except (requests.RequestException, OSError) as exc:
        part.unlink(missing_ok=True)
        if target.exists():
            when = dt.datetime.fromtimestamp(target.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            msg = f"download of {url} failed ({exc}); using the cached copy of {when}: {target}"
            log.warning(msg)
            warnings.warn(msg, CachedCopyWarning, stacklevel=2)
            return target
        raise DownloadError(url, f"download failed and no cached copy exists: {exc}", "a reachable official URL") from exc
