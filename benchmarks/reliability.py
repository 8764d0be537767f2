"""Reliability of the command line on bad input: the corpus of ``tests/test_bad_inputs.py``.

Runs every case of the corpus (the same code the test runs) and writes, per case, the exit
code, whether a traceback or an internal error showed, whether anything was written, and
the one line the user reads. Cases whose fix belongs in ``cli.py`` are listed as known.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, report_args, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_corpus():
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "test_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> None:
    args, command = report_args(__doc__, "reliability.py")
    corpus = load_corpus()
    rows = []
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "fitted").mkdir()
        fitted = corpus.make_fitted(Path(tmp) / "fitted")
        for i, case in enumerate(corpus.CASES):
            files, argv = case.values
            folder = Path(tmp) / f"case{i}"
            folder.mkdir()
            os.chdir(folder)
            try:
                run = corpus.run_case(fitted, folder, files, argv)
            finally:
                os.chdir(home)
            text = run["stdout"] + run["stderr"]
            lines = [line for line in run["stderr"].splitlines() if line.strip() and not line.startswith("warning:")]
            usage = "Usage:" in run["stderr"]
            one_line = usage or (len(lines) == 1 and lines[0].startswith("error: "))
            ok = (run["exit_code"] == 2 and "Traceback" not in text and "internal error" not in text and one_line
                  and not run["written"])
            message = ("(usage error) " + next((line.strip("│ ") for line in lines if "│" in line and
                                                line.strip("│ ")), "")) if usage else (lines[0] if lines else "")
            rows.append({"case": case.id, "exit": run["exit_code"], "ok": "yes" if ok else "NO",
                         "known (cli.py)": "yes" if case.id in corpus.CLI_BUGS else "",
                         "message": message.replace(str(folder), "CASE").replace(str(fitted), "FITTED").replace("|", "\\|")[:160]})
    frame = pd.DataFrame(rows)
    counts = Counter(frame["ok"])
    known = int((frame["known (cli.py)"] == "yes").sum())
    parts = [
        "# Reliability on bad input", "",
        f"Reproduce: `{command}` (the same cases run in `tests/test_bad_inputs.py`: "
        "`.venv/bin/python -m pytest -q tests/test_bad_inputs.py`)", "",
        f"{len(frame)} cases; {counts.get('yes', 0)} end as they should (exit code 2, one `error:` line or Typer's "
        "usage box, no traceback, nothing written)" + (
            f"; {counts['NO']} do not, {known} of them known and marked xfail." if counts.get("NO")
            else ": none fails, and none is marked xfail.") + f" Run on {time.strftime('%Y-%m-%d')}.", "",
        "Messages are cut at 160 characters; CASE stands for the case's own temporary folder, FITTED for the fitted model's.", "",
        markdown_table(frame),
    ]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
