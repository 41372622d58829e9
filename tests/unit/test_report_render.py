"""The report's HTML page and CSV files, from a hand-built report (`helpers.report_data`).

The page is parsed with html.parser into a small tree, so the checks read what a browser would:
one self-contained file, nothing fetched from anywhere, one inline SVG per chart with its table
beside it, every name escaped, and a bounded size however long the tables are.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.report_data import AS_OF, HOSTILE, PERIOD, sample_report

from healthsync.report.model import Chart, Metric, Report, Section, Table
from healthsync.report.render_csv import METRIC_COLUMNS, write_csv
from healthsync.report.render_html import (
    MAX_CHART_CATEGORIES,
    MAX_TABLE_ROWS,
    format_metric,
    render_html,
    write_html,
)

# --- a small DOM over html.parser ----------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def iter(self, tag: str | None = None):
        for child in self.children:
            if tag is None or child.tag == tag:
                yield child
            yield from child.iter(tag)

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.iter(tag) if cls is None or cls in n.attrs.get("class", "").split()]

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def ancestor(self, tag: str, cls: str) -> Node:
        node = self.parent
        while node is not None and not (node.tag == tag and cls in node.attrs.get("class", "").split()):
            node = node.parent
        assert node is not None, f"no {tag}.{cls} around {self.tag}"
        return node


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root
        self.styles: list[str] = []
        self.doctypes: list[str] = []
        self.processing: list[str] = []

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return self.root.find_all(tag, cls)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"stray </{tag}>"
        assert node.parent is not None, f"stray </{tag}>"
        self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)
        if self.current.tag == "style":
            self.styles.append(data)

    def handle_decl(self, decl):
        self.doctypes.append(decl)

    def handle_pi(self, data):
        self.processing.append(data)


def parse(html: str) -> TreeBuilder:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
    return builder


@pytest.fixture(scope="module")
def report() -> Report:
    return sample_report()


@pytest.fixture(scope="module")
def html(report) -> str:
    return render_html(report)


@pytest.fixture(scope="module")
def page(html) -> TreeBuilder:
    return parse(html)


def _charts(report: Report) -> list[tuple[Section, Chart]]:
    return [(s, c) for s in report.sections for c in s.charts]


# --- one self-contained file ---------------------------------------------------------------------


def test_write_html_writes_one_file_and_creates_its_folder(tmp_path, report):
    target = tmp_path / "out" / "nested" / "portfolio.html"
    written = write_html(report, target)
    assert written == target
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()] == [
        Path("out/nested/portfolio.html")
    ]
    assert target.read_text(encoding="utf-8") == render_html(report)


def test_page_references_nothing_outside_itself(page):
    """No src/href to anything but the page's own anchors; no @import, no url() but url(#id)."""
    nodes = list(page.root.iter())
    tags = {n.tag for n in nodes}
    assert not tags & {
        "script",
        "link",
        "iframe",
        "object",
        "embed",
        "img",
        "video",
        "audio",
        "source",
        "base",
    }
    refs = [
        (n.tag, name, value)
        for n in nodes
        for name, value in n.attrs.items()
        if name in ("src", "href", "xlink:href", "srcset", "action", "data", "poster")
    ]
    assert refs, "the page has internal links (contents, svg <use>)"
    external = [r for r in refs if not r[2].startswith("#")]
    assert external == []
    assert not [r for r in refs if re.match(r"(?i)\s*(https?:)?//", r[2])]
    css = "\n".join(page.styles) + "\n".join(n.attrs.get("style", "") for n in nodes)
    assert "@import" not in css
    every_attr = " ".join(v for n in nodes for v in n.attrs.values())
    urls = re.findall(r"url\(\s*['\"]?([^)'\"]*)", css + " " + every_attr)
    assert urls, "matplotlib clips its axes with url(#…)"
    assert [u for u in urls if not u.startswith("#")] == []
    assert "@font-face" not in css


def test_svg_ids_are_unique_on_the_page_and_every_reference_resolves(html, page):
    ids = [n.attrs["id"] for n in page.root.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    targets = set(ids)
    refs = re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', html)
    assert refs
    assert {a or b for a, b in refs} <= targets
    assert "figure_1" not in targets  # matplotlib's own group ids: unreferenced, dropped


def test_page_is_one_html_document_with_the_svg_prologues_stripped(html, page):
    assert page.doctypes == ["DOCTYPE html"]
    assert page.processing == []
    assert "<?xml" not in html
    assert "http://www.w3.org/Graphics/SVG" not in html
    assert html.count("<html") == 1


def test_rendering_is_deterministic(report, html):
    assert render_html(report) == html


# --- charts and their tables ---------------------------------------------------------------------


def test_one_svg_per_chart_each_in_its_figure_beside_its_table(report, page):
    charts = _charts(report)
    assert {c.kind for _, c in charts} == {"bar", "stacked_bar", "hbar", "line", "histogram"}
    assert len(page.find_all("svg")) == len(charts)
    figures = page.find_all("figure", "chart")
    assert [f.attrs["data-chart"] for f in figures] == [c.key for _, c in charts]
    for (_, chart), figure in zip(charts, figures, strict=True):
        [svg] = figure.find_all("svg")
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"] == chart.title
        assert "viewbox" in svg.attrs  # html.parser lower-cases attribute names
        assert len(svg.find_all("path")) > 5, chart.key  # axes, ticks and the marks themselves
        assert chart.title in figure.find_all("figcaption")[0].all_text()
        pair = figure.ancestor("div", "pair")
        [table] = pair.find_all("table")
        assert table.attrs["data-table"] == chart.table
        assert table.find_all("caption")


def test_every_table_is_on_the_page_with_a_caption_and_column_headers(report, page):
    tables = {t.attrs["data-table"]: t for t in page.find_all("table")}
    assert sorted(tables) == sorted(t.key for t in report.tables())
    for model in report.tables():
        table = tables[model.key]
        [caption] = table.find_all("caption")
        assert caption.all_text() == model.title
        headers = table.find_all("th")
        assert [h.all_text() for h in headers if h.attrs.get("scope") == "col"] == list(model.columns)
        assert len(table.find_all("tbody")[0].find_all("tr")) == len(model.rows)


def test_tables_without_a_chart_are_rendered_on_their_own(page):
    lone = {t.attrs["data-table"] for d in page.find_all("div", "lone") for t in d.find_all("table")}
    assert lone == {"band_movement", "churned_accounts"}


def test_cells_are_formatted_for_reading(page):
    tables = {t.attrs["data-table"]: t for t in page.find_all("table")}
    text = tables["at_risk"].all_text()
    assert "48,000" in text
    assert "31.5" in text
    assert "—" in text  # the renewal date that is None
    arr_cells = tables["arr_by_band"].find_all("td", "num")
    assert [c.all_text() for c in arr_cells][:2] == ["77", "812,000"]


def test_band_names_get_band_colours(html):
    """ARR by band: green, yellow, red and grey bars in the palette's band colours."""
    arr_chart = html[html.index('data-chart="arr_by_band"') : html.index('data-chart="score_distribution"')]
    for colour in ("#009e73", "#f0e442", "#d55e00"):
        assert colour in arr_chart.lower()


def test_a_chart_over_an_empty_table_says_no_data(tmp_path):
    empty = Table("empty", "Nothing yet", ("month", "arr"), ())
    section = Section(
        "s", "S", "", tables=(empty,), charts=(Chart("c", "Empty chart", "bar", "empty", "month", ("arr",)),)
    )
    page = parse(render_html(_report(section)))
    [figure] = page.find_all("figure", "chart")
    assert "no data" in figure.all_text()
    assert "no rows" in page.find_all("table")[0].all_text()


def test_two_charts_over_one_table_show_it_once_and_point_to_it():
    table = Table("t", "Shared numbers", ("month", "a", "b"), (("2026-10", 1, 2),))
    section = Section(
        "s",
        "S",
        "",
        tables=(table,),
        charts=(
            Chart("one", "One", "bar", "t", "month", ("a",)),
            Chart("two", "Two", "line", "t", "month", ("b",)),
        ),
    )
    page = parse(render_html(_report(section)))
    assert len(page.find_all("table")) == 1
    second = page.find_all("figure", "chart")[1].ancestor("div", "pair")
    [link] = second.find_all("a")
    assert link.attrs["href"] == "#" + page.find_all("table")[0].attrs["id"]


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        (Chart("c", "C", "bar", "missing", "month", ("arr",)), "names no table"),
        (Chart("c", "C", "bar", "t", "month", ("nope",)), "has no column nope"),
    ],
)
def test_a_chart_that_does_not_match_its_table_is_an_error(chart, message):
    table = Table("t", "T", ("month", "arr"), (("2026-10", 1.0),))
    with pytest.raises(ValueError, match=message):
        render_html(_report(Section("s", "S", "", tables=(table,), charts=(chart,))))


def test_a_row_with_the_wrong_number_of_cells_is_an_error():
    table = Table("t", "T", ("month", "arr"), (("2026-10", 1.0, "extra"),))
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        render_html(_report(Section("s", "S", "", tables=(table,))))


# --- escaping --------------------------------------------------------------------------------------


def test_names_reasons_and_notes_are_escaped(html, page):
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(" in html
    assert "<b>Owner" not in html
    assert "<img" not in html
    assert not page.find_all("script")
    assert not page.find_all("b")
    at_risk = next(t for t in page.find_all("table") if t.attrs["data-table"] == "at_risk")
    assert HOSTILE in at_risk.all_text()  # shown to the reader as the text it is
    hbar = next(f for f in page.find_all("figure", "chart") if f.attrs["data-chart"] == "at_risk")
    assert HOSTILE in hbar.find_all("svg")[0].all_text()  # matplotlib escaped the tick label


def test_section_titles_summaries_notes_and_metric_labels_are_escaped():
    table = Table("t", "<i>T</i>", ("<u>col</u>",), (("<em>x</em>",),), note="<s>note</s>")
    section = Section("s", "<h1>Title</h1>", "<marquee>summary</marquee>", tables=(table,))
    metric = Metric("m", "<b>label</b>", None, "%", 1.0, ">", PERIOD, note="<i>not enough</i>")
    html = render_html(replace(_report(section), metrics=(metric,)))
    page = parse(html)
    assert not {n.tag for n in page.root.iter()} & {"i", "u", "em", "s", "marquee", "b"}
    assert [h.all_text() for h in page.find_all("h1")] == ["Portfolio report"]
    for text in (
        "&lt;h1&gt;Title",
        "&lt;marquee&gt;",
        "&lt;s&gt;note",
        "&lt;b&gt;label",
        "&lt;i&gt;not enough",
    ):
        assert text in html


def test_a_dollar_sign_in_a_name_is_text_not_mathtext():
    table = Table("t", "T", ("account", "arr"), (("Save $5 $ deals", 5.0), ("$x^2$", 3.0)))
    section = Section(
        "s", "S", "", tables=(table,), charts=(Chart("c", "C", "hbar", "t", "account", ("arr",)),)
    )
    svg = parse(render_html(_report(section))).find_all("svg")[0].all_text()
    assert "Save $5 $ deals" in svg
    assert "$x^2$" in svg


# --- metric cards ----------------------------------------------------------------------------------


def _cards(page: TreeBuilder) -> dict[str, Node]:
    return {c.attrs["data-metric"]: c for c in page.find_all("li", "card")}


def test_metric_cards_show_value_target_status_and_note(report, page):
    cards = _cards(page)
    assert list(cards) == [m.key for m in report.metrics]

    def text(key: str, cls: str) -> str:
        found = [n for n in cards[key].iter() if cls in n.attrs.get("class", "").split()]
        return found[0].all_text() if found else ""

    assert text("nrr", "value") == "103.5 %"
    assert text("nrr", "target") == "target > 100 %"
    assert text("nrr", "badge") == "✓ on target"
    assert text("grr", "badge") == "✗ off target"
    assert text("logo_churn", "target") == "target < 5 %"
    assert text("ltv", "value") == "1,234,567ARR units"
    assert text("ltv", "badge") == "no target"
    assert text("ltv_cac", "value") == "3.4×"
    assert text("ltv_cac", "target") == "target > 3×"
    assert text("ttv", "value") == "12 days"
    assert text("coverage", "target") == "target ≥ 100 %"
    assert text("nps", "value") == "—"
    assert text("nps", "badge") == "no data"
    assert text("nps", "note") == "not enough data since 2026-10-02"
    assert "1,200,000" in cards["nrr"].all_text()  # the formula's inputs


def test_a_metric_without_value_or_note_says_since_when_history_is_missing():
    metric = Metric("nps", "NPS", None, "score", 50.0, ">", PERIOD)
    page = parse(render_html(replace(_report(), metrics=(metric,), first_day=date(2026, 10, 20))))
    assert "not enough data since 2026-10-20" in _cards(page)["nps"].all_text()


def test_header_shows_as_of_period_and_crm(page):
    header = page.find_all("header")[0].all_text()
    for text in (AS_OF.isoformat(), "month", PERIOD.label, "hubspot", "2026-07-01"):
        assert text in header


@pytest.mark.parametrize(
    ("unit", "value", "exact", "shown"),
    [
        ("%", 103.456, True, "103.5 %"),
        ("%", 100.0, True, "100.0 %"),
        ("%", 100.0, False, "100 %"),
        ("%", 85.5, False, "85.5 %"),
        ("money", 1234567.89, True, "1,234,568"),
        ("money", 0.0, True, "0"),
        ("days", 14.0, True, "14 days"),
        ("days", 1.0, True, "1 day"),
        ("days", 12.5, True, "12.5 days"),
        ("ratio", 3.0, True, "3.0×"),
        ("ratio", 3.0, False, "3×"),
        ("ratio", 2.96, True, "3.0×"),
        ("score", 42.0, True, "42"),
        ("score", -12.5, True, "-12.5"),
        ("score", None, True, "—"),
        ("%", float("nan"), True, "—"),
    ],
)
def test_format_metric_by_unit(unit, value, exact, shown):
    metric = Metric("m", "M", value, unit, None, ">", PERIOD)
    assert format_metric(metric, value, exact=exact) == shown


# --- size ------------------------------------------------------------------------------------------


def test_a_typical_page_is_small(html):
    assert len(html.encode()) < 250_000


def test_long_tables_are_capped_with_a_pointer_to_the_csv():
    rows = tuple((f"Account {i:05d}", float(i * 10), "red") for i in range(1234))
    table = Table("long", "Long", ("account", "arr", "band"), rows)
    section = Section(
        "s", "S", "", tables=(table,), charts=(Chart("c", "C", "hbar", "long", "account", ("arr",)),)
    )
    page = parse(render_html(_report(section)))
    [body] = page.find_all("tbody")
    assert len(body.find_all("tr")) == MAX_TABLE_ROWS
    assert "… 734 more rows (see CSV: long.csv)" in page.root.all_text()
    [figure] = page.find_all("figure", "chart")
    assert f"The first {MAX_CHART_CATEGORIES} of 1,234 rows are drawn" in figure.all_text()
    assert len(figure.find_all("svg")[0].find_all("text")) < MAX_CHART_CATEGORIES + 30


def test_the_page_stays_small_for_a_100k_account_portfolio():
    """Views bound their tables; the renderer guards anyway: 100k-row tables under every chart kind."""
    rows = tuple((f"Account {i:06d} <x>", float(i), i % 7, float(i % 100)) for i in range(100_000))
    tables = []
    charts = []
    for n, kind in enumerate(("bar", "stacked_bar", "hbar", "line", "histogram")):
        tables.append(Table(f"t{n}", f"Table {n}", ("account", "arr", "count", "score"), rows))
        charts.append(Chart(f"c{n}", f"Chart {n}", kind, f"t{n}", "account", ("arr", "count")))
    tables.append(Table("lone", "Lone", ("account", "arr", "count", "score"), rows))
    section = Section("big", "Big", "100k accounts", tables=tuple(tables), charts=tuple(charts))
    html = render_html(_report(section))
    assert len(html.encode()) < 3_000_000
    assert html.count("… 99,500 more rows") == 6


# --- CSV -------------------------------------------------------------------------------------------


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_write_csv_writes_one_file_per_table_and_the_metrics(tmp_path, report):
    folder = tmp_path / "csv" / "out"
    written = write_csv(report, folder)
    expected = [folder / f"{t.key}.csv" for t in report.tables()] + [folder / "metrics.csv"]
    assert written == expected
    assert sorted(folder.iterdir()) == sorted(expected)
    for table in report.tables():
        rows = _read(folder / f"{table.key}.csv")
        assert rows[0] == list(table.columns)
        assert len(rows) == len(table.rows) + 1


def test_csv_cells_are_written_as_they_are_with_formulas_defused(tmp_path, report):
    write_csv(report, tmp_path)
    at_risk = _read(tmp_path / "at_risk.csv")
    assert at_risk[1] == [
        HOSTILE,
        "48000.0",
        "red",
        "31.5",
        "2026-12-15",
        "Dana <b>Owner</b>",
        "usage halved over 14 days; <img src=x onerror=alert(1)>",
    ]
    assert at_risk[4][4] == ""  # None
    churned = _read(tmp_path / "churned_accounts.csv")
    assert churned[2][0] == f"{HOSTILE} (EU)"
    assert churned[2][4] == '\'=HYPERLINK("x")'
    assert (tmp_path / "at_risk.csv").read_bytes().count(b"\r\n") == len(at_risk)  # csv's own line ends


def test_metrics_csv(tmp_path, report):
    write_csv(report, tmp_path)
    rows = _read(tmp_path / "metrics.csv")
    assert rows[0] == list(METRIC_COLUMNS)
    by_key = {r[0]: dict(zip(METRIC_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert list(by_key) == [m.key for m in report.metrics]
    assert by_key["nrr"] == {
        "key": "nrr",
        "label": "Net revenue retention",
        "value": "103.46",
        "unit": "%",
        "target": "100.0",
        "comparison": ">",
        "on_target": "true",
        "period_start": "2026-09-30",
        "period_end": "2026-10-31",
        "note": "",
    }
    assert by_key["grr"]["on_target"] == "false"
    assert (by_key["nps"]["value"], by_key["nps"]["on_target"]) == ("", "")
    assert by_key["nps"]["note"] == "not enough data since 2026-10-02"
    assert by_key["ltv"]["target"] == ""


def test_csv_is_utf8(tmp_path):
    table = Table("names", "Names", ("account",), (("Zürich Größe ✓",),))
    write_csv(_report(Section("s", "S", "", tables=(table,))), tmp_path)
    assert (tmp_path / "names.csv").read_bytes() == "account\r\nZürich Größe ✓\r\n".encode()


@pytest.mark.parametrize("keys", [("a", "a"), ("metrics",), ("../up",), ("a/b",), ("",)])
def test_csv_refuses_keys_that_are_not_one_distinct_file_name(tmp_path, keys):
    tables = tuple(Table(k, k, ("x",), ()) for k in keys)
    with pytest.raises(ValueError, match=r"CSV|file name"):
        write_csv(_report(Section("s", "S", "", tables=tables)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _report(*sections: Section) -> Report:
    return Report(as_of=AS_OF, period=PERIOD, metrics=(), sections=sections, crm="salesforce")
