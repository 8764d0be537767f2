"""Model-folder migrations: each upgrades a folder's metadata and arrays, as read, from
one schema version to the next, so the estimators' ``load`` reads only the current layout.

Version history:

* **1** – the first layout. Folders written before some fields existed lack them: the
  causal detector's ``background_window`` (then: no background adjustment), its
  ``resid_mean``/``resid_std`` (then: the robust centre and scale) and ``drift_history``
  (then: no drift adjustment).
* **2** – the detector's ``score`` parameter is ``scoring`` (``score`` shadowed the
  method scikit-learn users expect); every field above is present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MIGRATIONS", "UNVERSIONED_DETECTOR_DEFAULTS", "detector_params", "upgrade"]

Meta = dict[str, Any]
Arrays = dict[str, np.ndarray]


def _v1_to_v2(meta: Meta, arrays: Arrays) -> None:
    if meta.get("task") == "unsupervised-detection" and isinstance(meta.get("params"), dict):
        params = meta["params"]
        if "score" in params:
            params["scoring"] = params.pop("score")
        params.setdefault("background_window", 0)
        if "center" in arrays and "scale" in arrays:
            arrays.setdefault("resid_mean", arrays["center"])
            arrays.setdefault("resid_std", arrays["scale"])
        if "drift_history" not in arrays:
            params["drift_window"] = 0
            arrays["drift_history"] = np.zeros((0, 2 * len(meta.get("metrics") or [])))


#: The causal detector's parameters added without a schema version (issue 17's calibration):
#: a folder that lacks one was fitted and scores without it, so its absence means "off".
UNVERSIONED_DETECTOR_DEFAULTS: dict[str, Any] = {"scale_floor": 0.0, "soft_cap": 0.0, "holdout": 0.0,
                                                 "lasting": False}


def detector_params(params: dict[str, Any]) -> dict[str, Any]:
    """A causal detector folder's ``params`` with :data:`UNVERSIONED_DETECTOR_DEFAULTS`
    filled in where absent (a copy), so an older folder loads as it scored.

    Parameters
    ----------
    params : dict
        The folder's ``params``.

    Returns
    -------
    dict
    """
    return {**UNVERSIONED_DETECTOR_DEFAULTS, **params}


#: from-version -> the function that upgrades a folder (in place) to the next version.
MIGRATIONS: dict[int, Callable[[Meta, Arrays], None]] = {1: _v1_to_v2}


def upgrade(meta: Meta, arrays: Arrays, to: int) -> tuple[Meta, Arrays]:
    """``meta`` and ``arrays`` upgraded step by step from their ``schema_version`` to ``to``
    (in memory; the folder on disk is left as it is).

    Parameters
    ----------
    meta : dict
        A folder's metadata, with its ``schema_version``; changed in place.
    arrays : dict of str to ndarray
        Its arrays; changed in place.
    to : int
        The version to reach (each step is a :data:`MIGRATIONS` entry).

    Returns
    -------
    tuple of (dict, dict of str to ndarray)
        ``meta`` and ``arrays``.
    """
    while meta["schema_version"] < to:
        MIGRATIONS[meta["schema_version"]](meta, arrays)
        meta["schema_version"] += 1
    return meta, arrays
