"""A model per entity for a fleet of hosts, pods or services, on dask.distributed.

::

    fleet_fit("metrics/", "models/")            # metrics/<entity>.csv -> models/<entity>/
    fleet_detect("models/", "metrics/", "scores/")  # scores/<entity>.csv + scores/incidents.json
    fleet_explain("models/", "metrics/", "scores/", "rca/")  # rca/<entity>/incident-<n>.rca.json

Each entity is one task (:func:`faultgraph.parallel.run_tasks`): the worker reads the
entity's data from its path or fsspec URL, does what the single-entity command does
(:mod:`faultgraph.workflows`, the same defaults, so the same model), writes its outputs
itself (a model folder atomically, a scores file) and sends back a few numbers. A failed
entity (or a metrics file whose name cannot name one) is reported in the
:class:`FleetResult` and the rest go on; ``fleet_fit`` skips
entities whose model is current (``fleet.json`` beside model.json records the data's
SHA-256, the options, the prior and faultgraph's version; ``force=True`` refits).
"""

from __future__ import annotations

from faultgraph.fleet.jobs import (EntityOutcome, FleetResult, Listing, fleet_detect, fleet_explain, fleet_fit,
                                   list_entities, scan_source)

__all__ = ["EntityOutcome", "FleetResult", "Listing", "fleet_detect", "fleet_explain", "fleet_fit", "list_entities",
           "scan_source"]
