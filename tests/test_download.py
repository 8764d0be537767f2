"""The dataset downloader, against a local stand-in for GitHub (no network needed): it keeps
the files the loaders read, writes them where the loaders look, converts ASD's pickles without
trusting them, follows Git LFS pointers, resumes, and fails with one clear message."""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from typer.testing import CliRunner

from faultgraph.cli import app
from faultgraph.datasets import smd
from faultgraph.datasets.download import DATASETS, download, read_array_pickle
from faultgraph.errors import DownloadError, InvalidInputError


def _git_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class FakeGitHub:
    """Serves ``MIRROR/api/repos/R/git/trees/REF``, ``MIRROR/raw/R/REF/PATH`` and
    ``MIRROR/media/R/REF/PATH`` from ``repos = {repo: {path: bytes}}``; paths in ``lfs`` are
    served by raw as an LFS pointer and by media as their content."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.lfs: set[str] = set()
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                fake.requests.append(self.path)
                status, body = fake.answer(urlparse(self.path).path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, path: str) -> tuple[int, bytes]:
        kind, _, rest = path.lstrip("/").partition("/")
        for repo, files in self.repos.items():
            if kind == "api" and rest.startswith(f"repos/{repo}/git/trees/"):  # as GitHub: LFS files by pointer
                stored = {p: self.pointer(b) if p in self.lfs else b for p, b in files.items()}
                tree = [{"path": p, "type": "blob", "size": len(b), "sha": _git_sha(b)} for p, b in stored.items()]
                return 200, json.dumps({"tree": tree + [{"path": "data", "type": "tree"}],
                                        "truncated": False}).encode()
            if kind in ("raw", "media") and rest.startswith(f"{repo}/"):
                file = unquote(rest[len(repo) + 1:]).split("/", 1)[1]
                if file not in files:
                    return 404, b"Not Found"
                if kind == "raw" and file in self.lfs:
                    return 200, self.pointer(files[file])
                return 200, files[file]
        return 404, b"Not Found"

    @staticmethod
    def pointer(content: bytes) -> bytes:
        oid = hashlib.sha256(content).hexdigest()
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n".encode()

    def urls(self) -> dict[str, str]:
        return {"api_url": f"{self.url}/api", "raw_url": f"{self.url}/raw", "media_url": f"{self.url}/media"}


@pytest.fixture
def github():
    fake = FakeGitHub()
    yield fake
    fake.server.shutdown()


def _csv(a: np.ndarray) -> bytes:
    return ("\n".join(",".join(repr(float(v)) for v in row) for row in a) + "\n").encode()


def _smd_repo(rng) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    train, test = rng.random((30, 3)).round(3), rng.random((20, 3)).round(3)
    labels = np.zeros(20, int)
    labels[5:9] = 1
    files = {
        "ServerMachineDataset/train/machine-1-1.txt": _csv(train),
        "ServerMachineDataset/test/machine-1-1.txt": _csv(test),
        "ServerMachineDataset/test_label/machine-1-1.txt": "\n".join(map(str, labels)).encode() + b"\n",
        "ServerMachineDataset/interpretation_label/machine-1-1.txt": b"5-8:1,3\n",
        "ServerMachineDataset/train/machine-1-2.txt": _csv(train[:10]),
        "ServerMachineDataset/label/machine-1-1.txt": b"not part of the layout\n",
        "README.md": b"# OmniAnomaly\n",
        "LICENSE": b"MIT License\n",
    }
    return files, train, test


def test_smd_lands_where_the_loader_reads_it_and_nothing_else(github, tmp_path):
    files, train, test = _smd_repo(np.random.default_rng(0))
    github.repos["NetManAIOps/OmniAnomaly"] = files
    seen = []
    result = download("smd", tmp_path, progress=lambda done, total, path: seen.append((done, total)),
                      **github.urls())
    root = tmp_path / "smd" / "ServerMachineDataset"
    machine = smd.load(root, "machine-1-1")
    np.testing.assert_array_equal(machine.train.to_numpy(), train)
    np.testing.assert_array_equal(machine.test.to_numpy(), test)
    assert machine.labels.tolist()[4:10] == [0, 1, 1, 1, 1, 0]
    assert machine.segments[0].metrics == (0, 2)
    assert (root / "LICENSE").read_bytes() == b"MIT License\n"
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(result.written) and len(written) == 6  # not README, not label/
    assert seen[-1] == (6, 6) and result.folder == tmp_path / "smd"
    assert result.bytes_written == sum(len(files[p.replace("smd/", "", 1)]) if p != "smd/ServerMachineDataset/LICENSE"
                                       else len(files["LICENSE"]) for p in written)


def test_a_second_run_keeps_what_is_there_and_refetches_what_changed(github, tmp_path):
    files, _, _ = _smd_repo(np.random.default_rng(1))
    github.repos["NetManAIOps/OmniAnomaly"] = files
    download("smd", tmp_path, **github.urls())
    again = download("smd", tmp_path, **github.urls())
    assert again.written == () and len(again.kept) == 6
    files["ServerMachineDataset/test_label/machine-1-1.txt"] = b"0\n" * 20
    third = download("smd", tmp_path, **github.urls())
    assert third.written == ("smd/ServerMachineDataset/test_label/machine-1-1.txt",)
    assert len(download("smd", tmp_path, overwrite=True, **github.urls()).written) == 6


def test_only_keeps_matching_files_and_the_licence(github, tmp_path):
    github.repos["NetManAIOps/OmniAnomaly"] = _smd_repo(np.random.default_rng(2))[0]
    result = download("smd", tmp_path, only="*machine-1-2*", **github.urls())
    assert sorted(result.written) == ["smd/ServerMachineDataset/LICENSE",
                                      "smd/ServerMachineDataset/train/machine-1-2.txt"]
    with pytest.raises(InvalidInputError, match=r"no file matching only='\*machine-9\*'"):
        download("smd", tmp_path, only="*machine-9*", **github.urls())


def test_asd_pickles_become_the_smd_text_layout(github, tmp_path):
    rng = np.random.default_rng(3)
    train = rng.random((25, 4)).astype(np.float32)
    test = rng.random((12, 4)).astype(np.float32)
    labels = np.r_[np.zeros(6), np.ones(3), np.zeros(3)].astype(np.float32)
    github.repos["zhhlee/InterFusion"] = {
        "data/processed/omi-1_train.pkl": pickle.dumps(train),
        "data/processed/omi-1_test.pkl": pickle.dumps(test),
        "data/processed/omi-1_test_label.pkl": pickle.dumps(labels),
        "data/processed/machine-1-1_train.pkl": pickle.dumps(train),  # SMD copies: not ASD
        "data/interpretation_label/omi-1.txt": b"6-8:2,4\n",
        "data/interpretation_label/anomaly_type.txt": b"dataset,anomaly_segment,anomaly_type\nomi-1,6-8,metric\n",
        "LICENSE": b"MIT\n",
    }
    download("asd", tmp_path, **github.urls())
    root = tmp_path / "asd" / "ApplicationServerDataset"
    machine = smd.load(root, "omi-1")
    # shortest text that reads back to the same float32: nothing lost, nothing invented
    np.testing.assert_array_equal(machine.train.to_numpy().astype(np.float32), train)
    np.testing.assert_array_equal(machine.test.to_numpy().astype(np.float32), test)
    assert machine.labels.tolist() == labels.astype(int).tolist()
    assert machine.segments[0].metrics == (1, 3)
    assert (root / "anomaly_type.txt").read_text().splitlines()[1] == "omi-1,6-8,metric"
    assert not (root / "train" / "machine-1-1.txt").exists()


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_that_is_not_an_array_is_refused_and_never_run(tmp_path, github):
    marker = tmp_path / "ran"
    data = pickle.dumps(_Hostile(str(marker)))
    with pytest.raises(InvalidInputError, match="only a pickled NumPy array is read"):
        read_array_pickle(data, "omi-1_train.pkl")
    assert not marker.exists()
    with pytest.raises(InvalidInputError, match="numeric NumPy array, got dict"):
        read_array_pickle(pickle.dumps({"a": 1}))
    github.repos["zhhlee/InterFusion"] = {"data/processed/omi-2_train.pkl": data}
    with pytest.raises(InvalidInputError, match="zhhlee/InterFusion/data/processed/omi-2_train.pkl"):
        download("asd", tmp_path / "out", **github.urls())
    assert not marker.exists()
    assert not list((tmp_path / "out").rglob("*.txt"))  # nothing half-written


def test_git_lfs_pointers_are_followed_to_the_content(github, tmp_path):
    github.repos["cmu-phil/example-causal-datasets"] = {
        "real/sachs/data/sachs.2005.continuous.txt": b"raf\tmek\n1.0\t2.0\n",
        "real/sachs/ground.truth/sachs.2005.ground.truth.graph.txt": b"Graph Edges:\n1. raf --> mek\n",
        "real/sachs/images/sachs.png": b"\x89PNG",
    }
    github.lfs.add("real/sachs/data/sachs.2005.continuous.txt")
    result = download("sachs", tmp_path, **github.urls())
    assert (tmp_path / "sachs/data/sachs.2005.continuous.txt").read_bytes() == b"raf\tmek\n1.0\t2.0\n"
    assert len(result.written) == 2 and any("/media/" in r for r in github.requests)
    github.requests.clear()  # a second run checks the pointer's sha256 and fetches nothing again
    again = download("sachs", tmp_path, **github.urls())
    assert again.written == () and len(again.kept) == 2 and not any("/media/" in r for r in github.requests)
    github.repos["cmu-phil/example-causal-datasets"]["real/sachs/data/sachs.2005.continuous.txt"] = b"raf\n3\n"
    assert download("sachs", tmp_path, **github.urls()).written == ("sachs/data/sachs.2005.continuous.txt",)
    assert (tmp_path / "sachs/data/sachs.2005.continuous.txt").read_bytes() == b"raf\n3\n"


def test_petshop_and_nezha_keep_the_files_their_loaders_read(github, tmp_path):
    github.repos["amazon-science/petshop-root-cause-analysis"] = {
        "dataset/low_traffic/graph.csv": b"a,b\n", "dataset/low_traffic/noissue/metrics.csv": b"x\n",
        "dataset/low_traffic/test/issue_3/metrics.csv": b"x\n", "dataset/low_traffic/test/issue_3/target.json": b"{}",
        "code/circa.py": b"", "LICENSE_DATASET": b"CC-BY-4.0\n", "NOTICE": b"Amazon\n",
    }
    github.repos["IntelligentDDS/Nezha"] = {
        "rca_data/2022-08-22/metric/adservice-1_metric.csv": b"Time\n",
        "rca_data/2022-08-22/metric/dependency.csv": b"",
        "rca_data/2022-08-22/2022-08-22-fault_list.json": b"{}", "rca_data/2022-08-22/log/a.log": b"",
        "rca_data/2022-08-22/trace/t.csv": b"", "construct_data/root_cause_hipster.json": b"{}", "LICENSE": b"MIT\n",
        "rca_data/2023-01-29/metric/ts-auth-service-1_metric.csv": b"Time\n",  # Train Ticket
        "rca_data/2023-01-29/2023-01-29-fault_list.json": b"{}", "rca_data/2023-01-29/log/b.log": b"",
        "construct_data/root_cause_ts.json": b"{}", "construct_data/other.json": b"{}",
    }
    pet = download("petshop", tmp_path, **github.urls())
    nez = download("nezha", tmp_path, **github.urls())
    assert sorted(pet.written) == ["petshop/LICENSE_DATASET", "petshop/NOTICE", "petshop/dataset/low_traffic/graph.csv",
                                   "petshop/dataset/low_traffic/noissue/metrics.csv",
                                   "petshop/dataset/low_traffic/test/issue_3/metrics.csv",
                                   "petshop/dataset/low_traffic/test/issue_3/target.json"]
    assert sorted(nez.written) == ["nezha/LICENSE", "nezha/construct_data/root_cause_hipster.json",
                                   "nezha/construct_data/root_cause_ts.json",
                                   "nezha/rca_data/2022-08-22/2022-08-22-fault_list.json",
                                   "nezha/rca_data/2022-08-22/metric/adservice-1_metric.csv",
                                   "nezha/rca_data/2022-08-22/metric/dependency.csv",
                                   "nezha/rca_data/2023-01-29/2023-01-29-fault_list.json",
                                   "nezha/rca_data/2023-01-29/metric/ts-auth-service-1_metric.csv"]


def test_failures_name_the_address_and_the_reason(github, tmp_path):
    with pytest.raises(InvalidInputError, match=r"name must be one of \['asd', 'nezha', 'petshop', 'sachs', 'smd'\]"):
        download("swat", tmp_path)
    with pytest.raises(DownloadError, match=r"could not fetch http://127\.0\.0\.1:1/.*no internet here"):
        download("smd", tmp_path, api_url="http://127.0.0.1:1", raw_url="http://127.0.0.1:1")
    with pytest.raises(DownloadError, match="HTTP 404"):  # a repository the mirror does not have
        download("smd", tmp_path, **github.urls())
    github.repos["NetManAIOps/OmniAnomaly"] = {"README.md": b"moved elsewhere\n"}
    with pytest.raises(InvalidInputError, match="has no file of the expected layout"):
        download("smd", tmp_path, **github.urls())
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="to must be a folder"):
        download("smd", tmp_path / "file", **github.urls())
    assert set(DATASETS) == {"smd", "asd", "petshop", "nezha", "sachs"}


def test_cli_download_lists_fetches_and_fails_in_one_line(github, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["download"])
    assert listed.exit_code == 0 and "NetManAIOps/OmniAnomaly" in listed.output and "sachs" in listed.output
    github.repos["NetManAIOps/OmniAnomaly"] = _smd_repo(np.random.default_rng(4))[0]
    ok = runner.invoke(app, ["download", "smd", "--to", str(tmp_path), "--mirror", github.url, "-q"])
    assert ok.exit_code == 0, ok.output
    assert "smd: 6 files written" in ok.output and "licence MIT" in ok.output
    assert smd.list_machines(tmp_path / "smd" / "ServerMachineDataset") == ["machine-1-1"]
    bad = runner.invoke(app, ["download", "swat", "--to", str(tmp_path), "--mirror", github.url])
    assert bad.exit_code == 2 and "name must be one of" in bad.output and "Traceback" not in bad.output


def test_a_transfer_that_breaks_off_and_an_unusable_folder_are_errors_not_tracebacks(github, tmp_path):
    rng = np.random.default_rng(0)
    files, _, _ = _smd_repo(rng)
    github.repos["NetManAIOps/OmniAnomaly"] = files
    answer = github.answer

    class Short(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            status, body = answer(urlparse(self.path).path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) + (0 if "/api/" in self.path else 100)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Short)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(DownloadError, match="the transfer broke off \\(IncompleteRead\\); run it again"):
            download("smd", tmp_path / "a", api_url=f"{url}/api", raw_url=f"{url}/raw", media_url=f"{url}/media")
    finally:
        server.shutdown()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="to must be a folder that can be written to"):
        download("smd", tmp_path / "file" / "sub", **github.urls())
