"""What the benchmark scripts share: one BLAS thread, Markdown tables, writing the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def pin_blas() -> None:
    """One BLAS thread for numpy's and scipy's OpenBLAS alike (load scipy's first)."""
    import scipy.linalg  # noqa: F401 - scipy bundles its own BLAS, loaded on first use
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A frame as a Markdown table, floats to ``digits`` places."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_report(parts: list[str], out: Path | None) -> None:
    """Join the report, write it to ``out`` (if given) and print it."""
    text = "\n".join(parts)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)
