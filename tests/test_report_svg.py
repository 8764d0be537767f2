"""The report's SVG pictures: what each draws, counted in its elements."""

from __future__ import annotations

import re

import numpy as np

from faultgraph.report.svg import heat_map


def _fills(svg: str) -> list[tuple[int, int, int]]:
    return [tuple(map(int, m)) for m in re.findall(r'class="heat-cell"[^>]*fill="rgb\((\d+),(\d+),(\d+)\)"', svg)]


def test_heat_map_cells_shades_and_marks():
    values = np.array([[0.0, 1.0, 2.0, 4.0], [np.inf, 0.0, np.nan, 4.0]])
    svg = heat_map(["a", "b"], values, marks=[2, -1], ends=("t0", "t3"), title="steps")
    fills = _fills(svg)
    assert len(fills) == 8
    # the 99th percentile of the finite values (4.0 here, nearly) is full red; inf saturates, NaN is white
    assert fills[0] == (255, 255, 255) and fills[3][1] < 5 and fills[4] == (255, 0, 0) and fills[6] == (255, 255, 255)
    assert fills[1][1] > fills[2][1] > fills[3][1]  # larger is darker
    ticks = re.findall(r'<rect class="onset-mark" x="([\d.]+)"', svg)
    cell_x = [float(x) for x in re.findall(r'class="heat-cell" x="([\d.]+)"', svg)[:4]]
    assert [float(x) for x in ticks] == [cell_x[2]]  # row a: at its third step
    assert svg.count('<path class="onset-mark"') == 1  # row b: broke before the first step
    assert ">t0<" in svg and ">t3<" in svg


def test_heat_map_bins_long_windows_by_their_largest_value():
    values = np.zeros((3, 1000))
    values[1, 517] = 9.0
    svg = heat_map(["a", "b", "c"], values, marks=[None, 517, None], max_columns=100)
    fills = _fills(svg)
    assert len(fills) == 300
    dark = [k for k, f in enumerate(fills) if f != (255, 255, 255)]
    assert dark == [100 + 51]  # the bin that holds step 517 (10 steps a bin)
    ticks = [float(x) for x in re.findall(r'<rect class="onset-mark" x="([\d.]+)"', svg)]
    cells = [float(x) for x in re.findall(r'class="heat-cell" x="([\d.]+)"', svg)]
    assert ticks == [cells[100 + 51]]


def test_long_labels_get_room_on_the_left():
    from faultgraph.report.svg import bar_chart

    long = "productcatalogservice|NodeCpuUsageRate(%)"
    for svg in (bar_chart([long, "a"], [2.0, 1.0]), heat_map([long, "a"], np.ones((2, 3)))):
        first_x = float(re.search(r'<rect class="(?:cause-bar|heat-cell)" x="([\d.]+)"', svg).group(1))
        assert first_x >= 6.6 * len(long)  # the label, right-aligned before it, starts inside the picture
