"""Rendering of the page templates in outputs/templates/*.j2 (jinja2, autoescaped).

Every piece of text from data goes through jinja2's autoescape; JSON embedded in a page goes through
`safe_json` (so `</script>` inside a name cannot end the script element). Pages load plotly.js and the
site's CSS/JS from the shared `assets/` folder by relative path, so the folder works from `file://`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from spendmap.outputs.money import (
    MISSING,
    format_count,
    format_gbp,
    format_gbp_full,
    format_per_head,
    format_share,
)


def _clean(obj: Any) -> Any:
    """NaN/inf -> None so the JSON is valid; numpy/pandas scalars -> Python."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:  # most values: no further test
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        return _clean(obj.item())
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    try:  # pandas NA / NaT
        import pandas as pd

        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def safe_json(obj: Any) -> Markup:
    """JSON safe to place inside a <script> element: `<`, `>`, `&` and line separators escaped."""
    return script_json(_clean(obj))


def script_json(obj: Any) -> Markup:
    """safe_json of data that is already plain JSON types (no NaN, numpy or pandas values): no copy."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return Markup(text)


TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def plural(n: object, word: str) -> str:
    """`word` or `word`+s to agree with the count n."""
    try:
        return word if int(float(n)) == 1 else word + "s"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return word + "s"


_env.filters.update(
    plural=plural,
    gbp=format_gbp,
    gbpfull=format_gbp_full,
    count=format_count,
    share=format_share,
    perhead=format_per_head,
    json=safe_json,
)


def render_index(ctx: Mapping[str, Any], **values: Any) -> str:
    """The entry page: key figures for every council and the small-grants chart."""
    return _env.get_template("index.html.j2").render(ctx=ctx, root="", **values)


def render_profile(ctx: Mapping[str, Any], **values: Any) -> str:
    """A council's profile page (lives in councils/<slug>/)."""
    return _env.get_template("profile.html.j2").render(ctx=ctx, root="../../", **values)


def render_search(ctx: Mapping[str, Any], **values: Any) -> str:
    """search.html: every award of the run year, searchable and filterable (lives at the root)."""
    return _env.get_template("search.html.j2").render(ctx=ctx, root="", finder_council=False, **values)


def render_sankey(ctx: Mapping[str, Any], **values: Any) -> str:
    """A standalone Sankey page (lives in councils/<slug>/; also shown in the profile's iframe)."""
    return _env.get_template("sankey.html.j2").render(ctx=ctx, root="../../", **values)


__all__ = [
    "MISSING", "render_index", "render_profile", "render_sankey", "render_search", "safe_json", "script_json",
]
