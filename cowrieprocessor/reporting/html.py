"""A report page as one self-contained HTML file, and as GitHub-flavoured Markdown.

Both are Jinja2 templates (``templates/``) over a :class:`.page.ReportPage`.
In HTML every value is escaped by Jinja2's autoescaping; control and bidirectional characters
are first cut into visible escapes (:func:`visible`), shown as the Rich view shows them.
The page holds no script and no link to anything: its style sheet and charts (static SVG)
are inline, and its Content-Security-Policy forbids scripts and every network request,
a second wall behind the escaping. In Markdown every value goes through :func:`md_cell`
(Jinja2's ``finalize`` applies it to every expression): a code span, so nothing in it is
markup or a link, with ``|`` escaped for the table.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cowrieprocessor.reporting.charts import Chart, render_svg, section_charts, sensor_chart
from cowrieprocessor.reporting.page import ReportPage
from cowrieprocessor.reporting.safe_text import escape_controls, visible_pieces

#: Key figures of a section: (label, document path, trends key or None).
KEY_FIGURES = (
    ("Sessions", ("sessions", "total"), "sessions_change"),
    ("Unique source IPs", ("sessions", "unique_ips"), "unique_ips_change"),
    ("Downloads", ("files", "downloads_total"), "downloads_change"),
    ("Login attempts", ("sessions", "login_attempts"), None),
    ("Login successes", ("sessions", "login_successes"), None),
    ("Commands", ("commands", "total"), None),
    ("Unique commands", ("commands", "unique"), None),
    ("Unique file hashes", ("files", "unique_hashes"), None),
    ("Uploads", ("files", "uploads_total"), None),
    ("Unique usernames", ("sessions", "unique_usernames"), None),
    ("Unique passwords", ("sessions", "unique_passwords"), None),
    ("Avg duration (s)", ("sessions", "avg_duration"), None),
)


def number(value: object) -> str:
    """A figure with thousands separators (2 decimals for a non-integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def change(value: float | None) -> str:
    """A percent change as the reports show it: ``+12.50 %``, ``-3.27 %``, or ``n/a``."""
    if value is None:
        return "n/a (previous was 0)"
    return f"{value:+,.2f} %"


def _figure(document: dict[str, Any], path: tuple[str, str]) -> Any:
    return document[path[0]][path[1]]


def _extra_labels(entry: dict[str, Any]) -> str:
    """Fields of a top-list entry besides value and count (enrichment labels), as text."""
    extra = [f"{k}: {v}" for k, v in entry.items() if k not in ("value", "count")]
    return "; ".join(extra)


@cache
def _environment(kind: str) -> Environment:
    if kind == "html":
        env = Environment(
            loader=PackageLoader("cowrieprocessor.reporting", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    else:
        env = Environment(
            loader=PackageLoader("cowrieprocessor.reporting", "templates"),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=md_cell,
        )
    env.filters.update(
        number=number,
        change=change,
        pieces=visible_pieces,
        visible=escape_controls,
        labels=_extra_labels,
    )
    env.globals.update(key_figures=KEY_FIGURES, figure=_figure)
    return env


def _style_sheet() -> Markup:
    # The package's own style sheet: trusted text, inserted as is.
    css = resources.files("cowrieprocessor.reporting").joinpath("templates/report.css")
    return Markup(css.read_text(encoding="utf-8"))


def _svg(chart: Chart) -> Markup:
    """A chart's SVG, as markup (Vega's SVG writer escapes every label it holds)."""
    svg = render_svg(chart)
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return Markup(svg)


#: Threads rendering charts: vl-convert renders outside the GIL, so two use both cores.
RENDER_THREADS = 2


def render_html(page: ReportPage, *, now: datetime | None = None) -> str:
    """The page as one self-contained HTML document (text)."""
    comparison = sensor_chart(page)
    charts = [section_charts(s) for s in page.sections]
    flat = [c for section in charts for c in section] + ([comparison] if comparison else [])
    with ThreadPoolExecutor(RENDER_THREADS) as pool:
        svgs = iter(list(pool.map(_svg, flat)))
    sections = [
        (section, [(c, next(svgs)) for c in section_charts_])
        for section, section_charts_ in zip(page.sections, charts, strict=True)
    ]
    template = _environment("html").get_template("report.html.j2")
    return template.render(
        page=page,
        report_type=page.period.report_type,
        label=page.period.label,
        generated=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        css=_style_sheet(),
        sections=sections,
        comparison=None if comparison is None else (comparison, next(svgs)),
    )


def md_cell(value: object) -> str:
    """A value as Markdown text that is never markup: a code span (a fence longer than any
    run of backticks in it), control characters made visible, ``|`` escaped for tables.

    Numbers are formatted with :func:`number`; ``None`` is ``-``.
    """
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, MdText):
        return str(value)
    text = escape_controls(str(value))
    if text == "":
        return "*(empty)*"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{padding}{text}{padding}{fence}".replace("|", "\\|")


class MdText(str):
    """Text of the template itself (headings, labels), passed through :func:`md_cell`."""

    __slots__ = ()


def render_markdown(page: ReportPage, *, now: datetime | None = None) -> str:
    """The page as GitHub-flavoured Markdown: the same figures as tables, no charts."""
    env = _environment("markdown")
    env.filters["text"] = MdText
    return env.get_template("report.md.j2").render(
        page=page,
        report_type=page.period.report_type,
        label=page.period.label,
        generated=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
    )


__all__ = ["change", "md_cell", "number", "render_html", "render_markdown"]
