"""Cached downloads: atomic write, retries configured, cache fallback with a notice, cached copies
checked against their recorded checksum before use (no network)."""

from __future__ import annotations

import hashlib

import pytest
import requests

from loaders import download
from loaders.errors import DownloadError


class FakeResponse:
    def __init__(self, chunks, fail_after=None, status=200):
        self.chunks, self.fail_after, self.status = chunks, fail_after, status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        if self.status >= 400:
            raise requests.HTTPError(f"{self.status} error")

    def iter_content(self, chunk_size):
        for i, c in enumerate(self.chunks):
            if self.fail_after is not None and i >= self.fail_after:
                raise requests.ConnectionError("connection reset (simulated)")
            yield c


class FakeSession:
    def __init__(self, response):
        self.response, self.calls = response, []

    def get(self, url, stream, timeout):
        self.calls.append((url, timeout))
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INCLUSION_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_download_is_written_atomically(cache):
    http = FakeSession(FakeResponse([b"a;b\n", b"1;2\n"]))
    path = download.fetch("https://example.invalid/f.csv", "f.csv", http=http)
    assert path == cache / "f.csv" and path.read_bytes() == b"a;b\n1;2\n"
    assert http.calls[0][1] == download.TIMEOUT
    assert not list(cache.glob("*.part"))
    # the checksum of what was downloaded is kept beside it
    assert (cache / "f.csv.sha256").read_text().split()[0] == hashlib.sha256(b"a;b\n1;2\n").hexdigest()


def test_cut_download_keeps_the_cached_copy_with_a_notice(cache):
    (cache / "f.csv").write_bytes(b"old complete file")
    download.record_checksum(cache / "f.csv")
    http = FakeSession(FakeResponse([b"new ", b"partial"], fail_after=1))
    with pytest.warns(download.CachedCopyWarning, match="using the verified cached copy"):
        path = download.fetch("https://example.invalid/f.csv", "f.csv", http=http)
    assert path.read_bytes() == b"old complete file"
    assert not list(cache.glob("*.part"))


def test_failure_without_cache_raises_a_clear_error(cache):
    http = FakeSession(requests.ConnectionError("no route to host"))
    with pytest.raises(DownloadError, match="no cached copy"):
        download.fetch("https://example.invalid/g.csv", "g.csv", http=http)
    http = FakeSession(FakeResponse([], status=404))
    with pytest.raises(DownloadError, match="404"):
        download.fetch("https://example.invalid/g.csv", "g.csv", http=http)


def test_no_request_when_cache_is_enough(cache):
    (cache / "h.csv").write_bytes(b"x")
    download.record_checksum(cache / "h.csv")
    http = FakeSession(AssertionError("must not be called"))
    assert download.fetch("https://example.invalid/h.csv", "h.csv", http=http, refresh=False).read_bytes() == b"x"


def test_damaged_cached_copy_is_not_used(cache):
    """A cached copy cut or changed after its download no longer matches its checksum: refused."""
    (cache / "f.csv").write_bytes(b"old complete file")
    download.record_checksum(cache / "f.csv")
    (cache / "f.csv").write_bytes(b"old comp")  # cut afterwards
    http = FakeSession(requests.ConnectionError("no route to host"))
    with pytest.raises(DownloadError, match="does not match its recorded SHA-256"):
        download.fetch("https://example.invalid/f.csv", "f.csv", http=http)
    # refresh=False: the damaged copy is downloaded again instead of being returned
    http = FakeSession(FakeResponse([b"new complete file"]))
    path = download.fetch("https://example.invalid/f.csv", "f.csv", http=http, refresh=False)
    assert path.read_bytes() == b"new complete file" and len(http.calls) == 1


def test_unverifiable_cached_copy_is_not_used(cache):
    (cache / "g.csv").write_bytes(b"put here by hand")  # no checksum recorded
    http = FakeSession(requests.ConnectionError("no route to host"))
    with pytest.raises(DownloadError, match="cannot be verified"):
        download.fetch("https://example.invalid/g.csv", "g.csv", http=http)


def test_cached_copy_is_checked_against_the_manifest_record(cache):
    """The pack's manifest records the checksum of the copy the pack was built with: a cached
    copy that differs (even with a matching .sha256 beside it) is not used in its place."""
    (cache / "f.csv").write_bytes(b"another vintage")
    download.record_checksum(cache / "f.csv")
    recorded = hashlib.sha256(b"the copy the pack was built with").hexdigest()
    http = FakeSession(requests.ConnectionError("no route to host"))
    with download.recorded_checksums({"f.csv": recorded}), pytest.raises(DownloadError, match="does not match"):
        download.fetch("https://example.invalid/f.csv", "f.csv", http=http)
    with download.recorded_checksums({"f.csv": hashlib.sha256(b"another vintage").hexdigest()}), \
            pytest.warns(download.CachedCopyWarning):
        assert download.fetch("https://example.invalid/f.csv", "f.csv", http=http).read_bytes() == b"another vintage"
    assert download._RECORDED == {}  # the record is scoped to the block


def test_session_retries_on_server_errors():
    s = download.session(retries=3)
    retry = s.get_adapter("https://x").max_retries
    assert retry.total == 3 and 503 in retry.status_forcelist
