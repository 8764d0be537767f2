"""Commands of the command line that live beside ``faultgraph.cli``, each module with a
``register(app)``. This package imports nothing: ``faultgraph --help`` stays fast."""

__all__: list[str] = []
