"""``faultgraph download``: public datasets from their authors' repositories (thin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from faultgraph._cli import errors, progress

__all__ = ["download", "register"]


def download(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="NAMES",
        help="Datasets to fetch: smd, asd, petshop, nezha, sachs (default: list them).", show_default=False)] = None,
    to: Annotated[Path, typer.Option("--to", help="Data folder; each dataset goes where the loaders and the "
                                     "benchmarks read it.")] = Path("data"),
    only: Annotated[Optional[str], typer.Option("--only", help="Keep only files whose local path matches "
                                                "this shell pattern, e.g. '*machine-1-1*'.")] = None,
    ref: Annotated[str, typer.Option("--ref", help="Branch, tag or commit of the source repository.")] = "HEAD",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Fetch again files already there.")] = False,
    mirror: Annotated[Optional[str], typer.Option(
        "--mirror", help="Fetch from a mirror of GitHub at this address (MIRROR/api, MIRROR/raw, "
        "MIRROR/media) instead.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Fetch public datasets (SMD, ASD, PetShop, Nezha, Sachs) from their authors' repositories."""
    from faultgraph.datasets.download import DATASETS, mirror_urls
    from faultgraph.datasets.download import download as fetch

    if not names:
        for source in DATASETS.values():
            print(f"{source.name:<8} {source.description} ({source.repo}, {source.licence})")
        return
    with errors():
        for name in names:
            with progress(f"{name}: listing", None, enabled=not quiet) as update:
                result = fetch(name, to, only=only, ref=ref, overwrite=overwrite, **mirror_urls(mirror),
                               progress=lambda done, total, path: update(description=name, completed=done,
                                                                         total=total, info=path))
            source = DATASETS[name]
            print(f"{name}: {len(result.written)} files written ({result.bytes_written / 1e6:.1f} MB), "
                  f"{len(result.kept)} already there, in {result.folder} "
                  f"(from {source.repo}, licence {source.licence})")


def register(app: typer.Typer) -> None:
    """Add ``download`` to ``app``."""
    app.command()(download)
