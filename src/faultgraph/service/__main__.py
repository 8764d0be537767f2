"""``python -m faultgraph.service serve|fetch ...``: the same commands as ``faultgraph
serve`` and ``faultgraph fetch``, for a unit file or a container without the script."""

from __future__ import annotations

import typer

from faultgraph.service.cli import register

__all__ = ["app"]

app = typer.Typer(name="faultgraph.service", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None)
register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
