"""The compliance report's chart: achieved % per day or week, drawn by pygal as SVG on the
server, inlined into the page.

pygal writes a <style> and a <script> (its tooltips' configuration) into every chart,
and an inline style attribute on the tooltip; the pages' Content-Security-Policy allows
none of them (and without JavaScript the tooltip is never shown). So they are taken out
of pygal's element tree before it is serialised, and the chart is styled by pages.css
(`.report-chart`). Each value is also written in a table below the chart, for those
who do not see it.
"""

from collections.abc import Sequence
from xml.etree import ElementTree as ET

import pygal

from tickets.reports import Point

_SVG = "http://www.w3.org/2000/svg"
# Elements the CSP would refuse, or that only pygal's JavaScript would use.
_DROPPED = {"style", "script"}


def achieved_chart(points: Sequence[Point], *, bucket: str, title: str) -> str:
    """The SVG, as markup safe to insert into the page (pygal escapes every text)."""
    chart = pygal.Line(
        js=[],
        css=[],
        disable_xml_declaration=True,
        show_legend=False,
        range=(0, 100),
        width=800,
        height=280,
        margin=12,
        show_x_guides=False,
        # A day or week with nothing decided is a gap in the line, not a bridge over it.
        allow_interruptions=True,
        x_label_rotation=0 if len(points) <= 12 else 30,
        show_minor_x_labels=len(points) <= 16,
        x_labels_major_every=max(1, len(points) // 8),
        truncate_label=-1,
        no_data_text="No tickets decided",
        value_formatter=lambda value: f"{value:g} %",
        y_title="Achieved %",
    )
    label = "%d %b" if bucket == "day" else "week of %d %b"
    chart.x_labels = [point.starts_on.strftime(label) for point in points]
    chart.add("Achieved %", [point.achieved_percent for point in points])
    tree = chart.render_tree()
    _strip(tree)
    tree.set("role", "img")
    tree.set("class", "pygal-chart")
    for child in list(tree):
        if child.tag in {"title", f"{{{_SVG}}}title"}:
            child.text = title
    ET.register_namespace("", _SVG)
    return ET.tostring(tree, encoding="unicode")


def _strip(element: ET.Element) -> None:
    for child in list(element):
        if not isinstance(child.tag, str):  # a comment: pygal's credits
            element.remove(child)
            continue
        name = child.tag.rsplit("}", 1)[-1]
        if name in _DROPPED or "tooltip" in child.get("class", "").split():
            element.remove(child)
            continue
        child.attrib.pop("style", None)
        _strip(child)
