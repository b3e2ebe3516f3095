"""Facade kept for existing imports: the cache lives in `cache`, downloading in `download`, official
releases in `releases`."""

from spendmap.sources.download import (
    MANIFEST_NAME,
    FetchedFile,
    HttpPolicy,
    default_cache_dir,
    is_url,
    read_fetch_manifest,
    resolve_source,
    sha256_of,
)
from spendmap.sources.releases import CATALOGUE, fetch_command, fetch_known, fetch_release, source_names

__all__ = [
    "CATALOGUE", "MANIFEST_NAME", "FetchedFile", "HttpPolicy", "default_cache_dir", "fetch_command",
    "fetch_known", "fetch_release", "is_url", "read_fetch_manifest", "resolve_source", "sha256_of",
    "source_names",
]
