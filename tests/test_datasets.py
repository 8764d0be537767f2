"""The SMD/ASD loader: the published layout, plain or gzipped, 1-based interpretation labels."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import SHARED_DATA
from faultgraph import InvalidInputError
from faultgraph.datasets import smd


def _write(root, machine, gz=False):
    files = {
        "train": "0.1,0.2,0.3\n0.2,0.3,0.4\n",
        "test": "0.1,0.2,0.3\n0.9,0.2,0.3\n0.8,0.1,0.9\n0.1,0.2,0.3\n",
        "test_label": "0\n1\n1\n0\n",
        "interpretation_label": "1-2:1,3\n",
    }
    for folder, text in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        path = root / folder / f"{machine}.txt"
        if gz:
            with gzip.open(str(path) + ".gz", "wt") as fh:
                fh.write(text)
        else:
            path.write_text(text)


@pytest.mark.parametrize("gz", [False, True])
def test_reads_the_layout_and_converts_indices(tmp_path, gz):
    _write(tmp_path, "machine-9-9", gz=gz)
    m = smd.load(tmp_path, "machine-9-9")
    assert m.train.shape == (2, 3) and m.test.shape == (4, 3)
    assert list(m.test.columns) == ["m0", "m1", "m2"]
    np.testing.assert_array_equal(m.labels, [0, 1, 1, 0])
    assert m.segments == (smd.Segment(1, 2, (0, 2)),)  # 1-based 1,3 -> 0-based 0,2
    assert m.test.iloc[2, 2] == 0.9
    assert smd.list_machines(tmp_path) == ["machine-9-9"]


def test_segment_ends_read_from_the_labels(tmp_path):
    """A file that writes each end as the row after its labelled run (SMD's) comes back with
    inclusive ends, and says so; one whose ends are labelled rows (ASD's) is read as written."""
    _write(tmp_path, "m")
    (tmp_path / "test_label" / "m.txt").write_text("0\n1\n1\n0\n0\n1\n0\n")
    (tmp_path / "test" / "m.txt").write_text("0.1,0.2,0.3\n" * 7)
    (tmp_path / "interpretation_label" / "m.txt").write_text("1-3:1\n5-6:2\n")
    m = smd.load(tmp_path, "m")
    assert m.segment_ends == "exclusive"
    assert m.segments == (smd.Segment(1, 2, (0,)), smd.Segment(5, 5, (1,)))
    assert all(m.labels[s.start: s.end + 1].all() for s in m.segments)
    (tmp_path / "interpretation_label" / "m.txt").write_text("1-2:1\n5-5:2\n")
    m = smd.load(tmp_path, "m")
    assert m.segment_ends == "inclusive" and m.segments == (smd.Segment(1, 2, (0,)), smd.Segment(5, 5, (1,)))
    # an end one past the last row is the slice convention too (no tie with two segments)
    (tmp_path / "test_label" / "m.txt").write_text("0\n1\n1\n0\n0\n1\n1\n")
    (tmp_path / "interpretation_label" / "m.txt").write_text("1-3:1\n5-7:2\n")
    m = smd.load(tmp_path, "m")
    assert m.segment_ends == "exclusive" and m.segments == (smd.Segment(1, 2, (0,)), smd.Segment(5, 6, (1,)))
    # labels of a longer test file are refused
    (tmp_path / "interpretation_label" / "m.txt").write_text("1-2:1\n5-9:2\n")
    with pytest.raises(InvalidInputError, match="segment 5-9 ends after the 7 test rows"):
        smd.load(tmp_path, "m")


def test_bad_layouts(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        smd.load(tmp_path / "nope", "m")
    _write(tmp_path, "m")
    (tmp_path / "test_label" / "m.txt").write_text("0\n1\n")
    with pytest.raises(InvalidInputError, match="one 0/1 per test row"):
        smd.load(tmp_path, "m")
    with pytest.raises(InvalidInputError, match="expected 'start-end"):
        smd.parse_segments("12:1,2\n", 3)
    with pytest.raises(InvalidInputError, match="bad span or metric index"):
        smd.parse_segments("1-2:4\n", 3)
    with pytest.raises(InvalidInputError, match="does not exist"):
        smd.load(tmp_path, "other")
    # a file cut short mid-row (an interrupted download) is refused, not read as gaps
    (tmp_path / "test_label" / "m.txt").write_text("0\n1\n1\n0\n")
    (tmp_path / "test" / "m.txt").write_text("0.1,0.2,0.3\n0.9,0.2,0.3\n0.8,0.1,0.9\n0.1,0.2")
    with pytest.raises(InvalidInputError, match=r"row 4 of 4: 1 of 3 values missing .*cut short"):
        smd.load(tmp_path, "m")


@pytest.mark.skipif(not (SHARED_DATA / "smd").exists(), reason=f"shared SMD data absent at {SHARED_DATA / 'smd'}")
def test_real_smd_machine():
    root = SHARED_DATA / "smd" / "ServerMachineDataset"
    m = smd.load(root, "machine-1-3")
    assert m.train.shape[1] == 38 and m.test.shape[1] == 38
    assert len(m.labels) == len(m.test) and 0 < m.labels.mean() < 0.5
    assert m.segments and all(0 <= j < 38 for s in m.segments for j in s.metrics)
    # every interpretation segment lies inside labelled anomalies, its last row too (SMD's
    # files write the row after each segment: read as end - 1)
    assert m.segment_ends == "exclusive"
    assert all(m.labels[s.start: s.end + 1].all() for s in m.segments)


@pytest.mark.skipif(not (SHARED_DATA / "asd").exists(), reason=f"shared ASD data absent at {SHARED_DATA / 'asd'}")
def test_real_asd_segments_are_read_as_written():
    root = SHARED_DATA / "asd" / "ApplicationServerDataset"
    for name in smd.list_machines(root):
        a = smd.load(root, name)
        assert a.segment_ends == "inclusive" and all(a.labels[s.start: s.end + 1].all() for s in a.segments), name


def test_petshop_metrics_layout(tmp_path):
    from faultgraph.datasets import petshop

    root = tmp_path / "low_traffic"
    header = ("microservice,PetSite,PetSite,DB\nmetric,latency,requests,latency\nstatistic,Average,Sum,p90\n"
              "unix_timestamp,,,\n")
    (root / "noissue").mkdir(parents=True)
    (root / "noissue" / "metrics.csv").write_text(header + "1692608400.0,1.5,10,\n1692608700.0,1.7,12,0.2\n")
    issue = root / "test" / "issue_0"
    issue.mkdir(parents=True)
    (issue / "metrics.csv").write_text(header + "1681857600.0,9.0,3,0.9\n")
    (issue / "target.json").write_text('{"target": {"node": "PetSite", "metric": "latency"}, '
                                       '"root_cause": {"node": "DB", "metric": null}}')
    ps = petshop.load(root)
    assert list(ps.normal.columns) == ["PetSite|latency|Average", "PetSite|requests|Sum", "DB|latency|p90"]
    assert ps.normal.iloc[1, 0] == 1.7 and np.isnan(ps.normal.iloc[0, 2])
    assert str(ps.normal.index[0]) == "2023-08-21 09:00:00+00:00"
    assert ps.services["DB|latency|p90"] == "DB"
    assert ps.issues[0].root_cause == "DB" and ps.issues[0].target_node == "PetSite"
    # a damaged copy says what is wrong, where (it was a ValueError, KeyError or a gap in the data)
    (issue / "metrics.csv").write_text(header + "1681857600.0,9.0,3,0.9\n1681857900.0,9.1")
    with pytest.raises(InvalidInputError,
                       match=r"issue_0.metrics\.csv': data row 2 \(after the four header rows\) has 2 of .*cut short"):
        petshop.load(root)
    (issue / "metrics.csv").write_text(header + "1681857600.0,9.0,3,0.9\nnan,9.1,3,0.2\n")
    with pytest.raises(InvalidInputError,
                       match=r"data row 2 \(after the four header rows\) has no Unix timestamp .* got nan"):
        petshop.load(root)
    (issue / "metrics.csv").write_text(header + "1681857600.0,9.0,3,0.9\n")
    (issue / "target.json").write_text('{"target": {"node": "PetSite"}}')
    with pytest.raises(InvalidInputError, match="must hold target.node, target.metric and root_cause.node"):
        petshop.load(root)
    (issue / "target.json").write_text('{"target": ')
    with pytest.raises(InvalidInputError, match="target.json' is not valid JSON"):
        petshop.load(root)
    (issue / "target.json").unlink()
    with pytest.raises(InvalidInputError, match="target.json' cannot be read"):
        petshop.load(root)
    (root / "test" / "issue_old").mkdir()
    with pytest.raises(InvalidInputError, match="holds 'issue_old': issue folders are named issue_<number>"):
        petshop.load(root)
    (root / "noissue" / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="four PetShop header rows"):
        petshop.load(root)


@pytest.mark.skipif(not (SHARED_DATA / "petshop").exists(), reason=f"shared PetShop data absent at {SHARED_DATA}")
def test_real_petshop():
    from faultgraph.datasets import petshop

    ps = petshop.load(SHARED_DATA / "petshop" / "dataset" / "low_traffic")
    assert len(ps.issues) == 26 and ps.normal.shape[0] > 500
    assert all(i.root_cause in set(ps.services.values()) for i in ps.issues)
