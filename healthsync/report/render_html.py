"""The report as one self-contained HTML page: metric cards, then each view's charts and tables.

The page needs nothing at view time: no script, no CDN, no web font, no image file. Styles sit in one
<style> element; charts are drawn by matplotlib (object API, no pyplot, so nothing touches a display)
and embedded as inline SVG with text kept as text (`svg.fonttype = "none"`: small and selectable).
Beside every chart stands the table it is drawn from, so the page reads the same printed and to a
screen reader. Every name, reason and note goes through jinja2's autoescaping.

Inline SVGs share the page's id space, so each chart's ids are rewritten: ids nothing refers to are
dropped (matplotlib names every group), the rest get a prefix unique to the chart.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from healthsync.report.model import Cell, Chart, Metric, Report, Section, Table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MAX_CHART_CATEGORIES", "MAX_TABLE_ROWS", "PALETTE", "format_metric", "render_html", "write_html"]

MAX_TABLE_ROWS = 500
"""Rows rendered per table; the rest are in the table's CSV (the page stays small at 100k accounts)."""

MAX_CHART_CATEGORIES = 60
"""Categories drawn by a bar chart (bar, stacked_bar, hbar); lines and histograms draw up to
MAX_TABLE_ROWS points. The table beside the chart has the rest."""

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe & Ito's colour-blind-safe palette: series colours in this order."""

BAND_COLOURS = {
    "green": "#009E73",
    "yellow": "#F0E442",
    "red": "#D55E00",
    "grey": "#999999",
    "gray": "#999999",
    "unscored": "#999999",
    "unknown": "#999999",
    "none": "#999999",
}
"""Health bands in the palette's own green, yellow and vermillion (told apart by lightness too),
grey for accounts without a band. Used when the categories or series are band names."""

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Line series differ by marker as well as colour."""

_EDGE = "#333333"
"""A thin dark outline on every bar, so the light yellow holds up on white."""

_COMPARISON_TEXT = {">": ">", "<": "<", ">=": "≥"}


# --- values as a reader sees them ----------------------------------------------------------------


def _trim(number: str) -> str:
    return number[:-2] if number.endswith(".0") else number


def format_metric(metric: Metric, value: float | None, *, exact: bool = True) -> str:
    """A metric's value (or target, with `exact=False`: "100 %" rather than "100.0 %") by its unit:
    percentages and ratios to one decimal, money with thousands separators and no currency symbol
    (the CRM's ARR is in whatever currency the team uses), days and scores whole when whole."""
    if value is None or math.isnan(value):
        return "—"
    one = f"{value:,.1f}"
    if not exact or metric.unit in ("days", "score"):
        one = _trim(one)
    if metric.unit == "%":
        return f"{one} %"
    if metric.unit == "money":
        return f"{value:,.0f}"
    if metric.unit == "days":
        return f"{one} day" if value == 1 else f"{one} days"
    if metric.unit == "ratio":
        return f"{one}×"
    return one


def _format_cell(cell: Cell) -> str:
    if cell is None:
        return "—"
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return f"{cell:,}"
    if isinstance(cell, float):
        if math.isnan(cell):
            return "—"
        if cell == int(cell) and abs(cell) < 1e15:
            return f"{int(cell):,}"
        return f"{cell:,.2f}".rstrip("0").rstrip(".")
    return cell


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


# --- what the template reads -------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    key: str
    label: str
    value: str
    unit_hint: str
    target: str
    status: str
    status_class: str
    note: str
    period: str
    inputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _TableView:
    anchor: str
    key: str
    title: str
    columns: tuple[str, ...]
    classes: tuple[str, ...]
    """Per column: "num" (right-aligned figures), "short" (kept on one line) or ""."""
    rows: tuple[tuple[str, ...], ...]
    more: int
    note: str


@dataclass(frozen=True)
class _ChartView:
    key: str
    title: str
    svg: Markup
    caption: str
    table: _TableView | None
    """The table beside the chart, or None when an earlier chart already shows it (`table_ref`)."""
    table_ref: _TableView


@dataclass(frozen=True)
class _SectionView:
    anchor: str
    title: str
    summary: str
    charts: tuple[_ChartView, ...]
    tables: tuple[_TableView, ...]


def _card(metric: Metric, report: Report) -> _Card:
    status, status_class = {
        True: ("✓ on target", "on"),
        False: ("✗ off target", "off"),
        None: ("no data" if metric.value is None else "no target", "none"),
    }[metric.on_target]
    note = metric.note or ""
    if metric.value is None and not note:
        since = report.first_day or metric.period.start
        note = f"not enough data since {since.isoformat()}"
    target = ""
    if metric.target is not None:
        shown = format_metric(metric, metric.target, exact=False)
        target = f"target {_COMPARISON_TEXT[metric.comparison]} {shown}"
    return _Card(
        key=metric.key,
        label=metric.label,
        value=format_metric(metric, metric.value),
        unit_hint="ARR units" if metric.unit == "money" and metric.value is not None else "",
        target=target,
        status=status,
        status_class=status_class,
        note=note,
        period="" if metric.period == report.period else f"{metric.period.kind} {metric.period.label}",
        inputs=tuple((str(k), _format_cell(v)) for k, v in metric.details.items()),
    )


def _is_number(cell: Cell) -> bool:
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def _table_view(table: Table, anchor: str) -> _TableView:
    width = len(table.columns)
    if any(len(row) != width for row in table.rows):
        raise ValueError(f"table {table.key!r}: every row needs {width} cells, one per column")
    shown = table.rows[:MAX_TABLE_ROWS]
    rows = tuple(tuple(_format_cell(c) for c in row) for row in shown)
    classes = []
    for i in range(width):
        cells = [row[i] for row in shown]
        if any(_is_number(c) for c in cells) and all(_is_number(c) or c is None for c in cells):
            classes.append("num")
        elif all(len(row[i]) <= 12 for row in rows):
            classes.append("short")  # dates, bands, months: never broken over two lines
        else:
            classes.append("")
    return _TableView(
        anchor=anchor,
        key=table.key,
        title=table.title,
        columns=table.columns,
        classes=tuple(classes),
        rows=rows,
        more=len(table.rows) - len(shown),
        note=table.note or "",
    )


# --- charts --------------------------------------------------------------------------------------


def _number(cell: Cell) -> float:
    if cell is None or isinstance(cell, bool):
        return math.nan
    if isinstance(cell, int | float):
        return float(cell)
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return math.nan


def _band_colours(names: Iterable[str]) -> list[str] | None:
    """Band colours for these names when every one is a band name (and some are real bands)."""
    keys = [name.strip().lower() for name in names]
    if keys and all(k in BAND_COLOURS for k in keys) and any(k in ("green", "yellow", "red") for k in keys):
        return [BAND_COLOURS[k] for k in keys]
    return None


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


_ID = re.compile(r'\sid="([^"]*)"')
_REF = re.compile(r'url\(#([^)"\']+)\)|href="#([^"]+)"')


def _scope_ids(svg: str, prefix: str) -> str:
    """Drop the ids nothing refers to and prefix the rest, so charts on one page never clash."""
    referenced = {a or b for a, b in _REF.findall(svg)}
    svg = _ID.sub(lambda m: f' id="{prefix}{m.group(1)}"' if m.group(1) in referenced else "", svg)
    svg = re.sub(r'url\(#([^)"\']+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def _svg_markup(svg: str, prefix: str, title: str) -> Markup:
    """The bare <svg> element for inlining: no prologue or DOCTYPE, scoped ids, sized by CSS,
    role="img" with the chart's title as its accessible name."""
    svg = svg[svg.index("<svg") :]
    svg = _scope_ids(svg, prefix)
    # the stylesheet sets the joins/caps matplotlib puts in a document-wide `*` rule
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<defs>\s*</defs>", "", svg)
    svg = re.sub(r">\s+<", "><", svg).strip()
    open_tag_end = svg.index(">")
    open_tag = re.sub(r'\s(?:width|height|id)="[^"]*"', "", svg[:open_tag_end])
    # matplotlib wrote this SVG and escaped every text in it; the title is escaped here
    return Markup(  # noqa: S704
        f'{open_tag} role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet"'
        f"{svg[open_tag_end:]}"
    )


def _style_axes(ax: Axes, *, value_axis: Literal["x", "y"]) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis=value_axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _value_ticks(ax: Axes, values: Sequence[float], *, axis: str) -> None:
    """Whole ticks for counts, thousands separators for large values (money)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    finite = [v for v in values if not math.isnan(v)]
    if finite and all(v == int(v) for v in finite):
        target.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if finite and max(abs(v) for v in finite) >= 10_000:
        target.set_major_locator(MaxNLocator(nbins=6))
        target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))


def _draw(ax: Axes, chart: Chart, labels: list[str], series: list[tuple[str, list[float]]]) -> None:
    count = len(labels)
    positions = list(range(count))
    names = [name for name, _ in series]
    series_colours = _band_colours(names) or [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    category_colours = _band_colours(labels) if len(series) == 1 else None
    every_value = [v for _, values in series for v in values]

    if chart.kind == "line":
        _style_axes(ax, value_axis="y")
        for i, (name, values) in enumerate(series):
            ax.plot(
                positions,
                values,
                label=name,
                color=series_colours[i],
                marker=_MARKERS[i % len(_MARKERS)],
                markersize=4 if count <= 60 else 0,
                linewidth=1.8,
            )
        _category_ticks(ax, labels, axis="x")
        _value_ticks(ax, every_value, axis="y")
        ax.set_ylabel(chart.y_label)
        return

    zeroed = [(name, [0.0 if math.isnan(v) else v for v in values]) for name, values in series]
    horizontal = chart.kind == "hbar"
    _style_axes(ax, value_axis="x" if horizontal else "y")
    if chart.kind == "stacked_bar" or len(zeroed) == 1:
        base = [0.0] * count
        width = 1.0 if chart.kind == "histogram" else 0.7
        for i, (name, values) in enumerate(zeroed):
            colours = category_colours or series_colours[i]
            if horizontal:
                ax.barh(
                    positions,
                    values,
                    height=width,
                    left=base,
                    label=name,
                    color=colours,
                    edgecolor=_EDGE,
                    linewidth=0.4,
                )
            else:
                ax.bar(
                    positions,
                    values,
                    width=width,
                    bottom=base,
                    label=name,
                    color=colours,
                    edgecolor=_EDGE,
                    linewidth=0.4,
                )
            base = [b + v for b, v in zip(base, values, strict=True)]
        totals = base
    else:  # grouped bars, one per series (histograms of several series too)
        group = 0.8 if chart.kind != "histogram" else 0.95
        width = group / len(zeroed)
        for i, (name, values) in enumerate(zeroed):
            shifted = [p - group / 2 + width * (i + 0.5) for p in positions]
            if horizontal:
                ax.barh(
                    shifted,
                    values,
                    height=width,
                    label=name,
                    color=series_colours[i],
                    edgecolor=_EDGE,
                    linewidth=0.4,
                )
            else:
                ax.bar(
                    shifted,
                    values,
                    width=width,
                    label=name,
                    color=series_colours[i],
                    edgecolor=_EDGE,
                    linewidth=0.4,
                )
        totals = every_value
    if horizontal:
        _category_ticks(ax, labels, axis="y")
        ax.invert_yaxis()  # the table's first row on top
        _value_ticks(ax, totals, axis="x")
        ax.set_xlabel(chart.y_label)
    else:
        _category_ticks(ax, labels, axis="x")
        _value_ticks(ax, totals, axis="y")
        ax.set_ylabel(chart.y_label)


def _category_ticks(ax: Axes, labels: list[str], *, axis: str) -> None:
    """Tick labels from the table's x column; thinned to about a dozen on a crowded x axis."""
    positions = list(range(len(labels)))
    if axis == "y":
        ax.set_yticks(positions, [_short(label, 32) for label in labels])
        return
    step = max(1, math.ceil(len(labels) / 12))
    shown = positions[::step]
    ax.set_xticks(shown, [_short(labels[p], 16) for p in shown])
    crowded = len(shown) > 6 or any(len(labels[p]) > 8 for p in shown)
    if crowded:
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")


def _chart_svg(chart: Chart, table: Table, prefix: str) -> tuple[Markup, str]:
    """The chart drawn from its table as inline SVG, and a caption line on what it leaves out."""
    import matplotlib
    from matplotlib.figure import Figure

    missing = [c for c in (chart.x, *chart.y) if c not in table.columns]
    if missing:
        raise ValueError(f"chart {chart.key!r}: table {table.key!r} has no column {', '.join(missing)}")
    limit = MAX_TABLE_ROWS if chart.kind in ("line", "histogram") else MAX_CHART_CATEGORIES
    rows = table.rows[:limit]
    x_index = table.columns.index(chart.x)
    labels = [_format_cell(row[x_index]) for row in rows]
    series = [(name, [_number(row[table.columns.index(name)]) for row in rows]) for name in chart.y]
    caption = ""
    if len(table.rows) > limit:
        caption = f"The first {limit} of {len(table.rows):,} rows are drawn; the table has them all."

    horizontal = chart.kind == "hbar"
    height = max(3.0, min(14.0, 0.26 * len(rows) + 1.0)) if horizontal else 3.4
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": prefix,
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],
            "font.size": 9,
            "text.parse_math": False,  # an account named "$5 $ deals" is text, not TeX
            "axes.edgecolor": "#555555",
            "axes.labelcolor": "#333333",
            "xtick.color": "#333333",
            "ytick.color": "#333333",
            "legend.frameon": False,
        }
    ):
        figure = Figure(figsize=(6.4, height), layout="constrained")
        ax = figure.subplots()
        if rows:
            _draw(ax, chart, labels, series)
            if len(series) > 1:
                figure.legend(loc="outside upper center", ncols=min(len(series), 4), fontsize=8)
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no data", ha="center", va="center", color="#666666", transform=ax.transAxes)
        buffer = io.StringIO()
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return _svg_markup(buffer.getvalue(), prefix, chart.title), caption


def _section_view(section: Section, index: int, used: set[str]) -> _SectionView:
    tables = {t.key: t for t in section.tables}
    views = {t.key: _table_view(t, f"table-{index}-{_slug(t.key)}") for t in section.tables}
    shown: set[str] = set()
    charts = []
    for n, chart in enumerate(section.charts):
        table = tables.get(chart.table)
        if table is None:
            raise ValueError(
                f"chart {chart.key!r} in section {section.key!r} names no table of it: {chart.table!r}"
            )
        svg, caption = _chart_svg(chart, table, prefix=f"c{index}-{n}-")
        charts.append(
            _ChartView(
                key=chart.key,
                title=chart.title,
                svg=svg,
                caption=caption,
                table=None if table.key in shown else views[table.key],
                table_ref=views[table.key],
            )
        )
        shown.add(table.key)
    anchor = f"section-{_slug(section.key)}"
    while anchor in used:
        anchor += "-2"
    used.add(anchor)
    return _SectionView(
        anchor=anchor,
        title=section.title,
        summary=section.summary,
        charts=tuple(charts),
        tables=tuple(views[t.key] for t in section.tables if t.key not in shown),
    )


# --- the page ------------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("healthsync.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Report) -> str:
    """The whole report as one HTML document that needs no network to view."""
    used: set[str] = set()
    sections = [_section_view(section, i, used) for i, section in enumerate(report.sections)]
    template = _environment().get_template("report.html.j2")
    return template.render(
        as_of=report.as_of.isoformat(),
        period=report.period,
        crm=report.crm or "not recorded",
        first_day=report.first_day.isoformat() if report.first_day else None,
        cards=[_card(m, report) for m in report.metrics],
        sections=sections,
        max_rows=MAX_TABLE_ROWS,
    )


def write_html(report: Report, path: Path | str) -> Path:
    """Write the page (UTF-8) to `path`, creating its folder; returns the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target
