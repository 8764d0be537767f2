"""The structure learner's dense algebra on another device (PyTorch; the ``torch`` extra).

Two products dominate a large screened fit (:mod:`~faultgraph.discovery.screen`): the
second moments ``S = XᵀX/n`` (``O(n d²)``) and the precision ``Θ = S⁻¹`` of the screen
(``O(d³)``). With ``device="cuda"`` both run on the GPU in float64 and come back as
NumPy arrays; everything else stays on the CPU (it is small). ``device=None`` (the
default) is NumPy. ``device="cpu"`` runs PyTorch on the CPU, which is how CI tests the
path without a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faultgraph.errors import InvalidInputError

__all__ = ["inverse", "resolve_device", "second_moments"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("device= needs PyTorch: pip install 'faultgraph[torch]'") from None
    return torch


def resolve_device(device: str | None) -> Any:
    """``None`` (NumPy), or the ``torch.device`` of ``device``.

    Parameters
    ----------
    device : str or None
        ``None``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Returns
    -------
    torch.device or None

    Raises
    ------
    InvalidInputError
        Naming ``device``, when it is no such name or names CUDA on a machine where
        PyTorch sees no GPU.
    ImportError
        When a device is named and PyTorch is not installed.
    """
    if device is None:
        return None
    if not isinstance(device, str):
        raise InvalidInputError(f"device must be None, 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    torch = _torch()
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InvalidInputError(f"device must be None, 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r}: PyTorch sees no CUDA GPU on this machine; use device=None "
                                "(NumPy) or 'cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise InvalidInputError(f"device must be None, 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    return dev


def second_moments(X: np.ndarray, *, standardize: bool, device: str | None = None) -> np.ndarray:
    """``S = XᵀX / n`` of the centred (and optionally unit-variance) columns of ``X``, on
    ``device`` (float64); the same as :func:`faultgraph.discovery.second_moments` up to
    rounding. The caller's array is left as it was.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The data.
    standardize : bool
        Scale the columns to unit variance (``S`` is then the correlation matrix).
    device : str or None, default None
        ``None``: NumPy; else a PyTorch device (see :func:`resolve_device`).

    Returns
    -------
    ndarray of shape (d, d)
        float64, on the CPU.

    Raises
    ------
    InvalidInputError
        When ``device`` cannot be used (see :func:`resolve_device`).
    """
    dev = resolve_device(device)
    if dev is None:
        from faultgraph.discovery.learner import second_moments as on_numpy

        return on_numpy(X, standardize=standardize)
    torch = _torch()
    T = torch.tensor(np.asarray(X, dtype=np.float64), device=dev)  # a copy: X may be read-only
    Tc = T - T.mean(dim=0)
    S = Tc.T @ Tc / T.shape[0]
    if standardize:
        sd = torch.sqrt(torch.diagonal(S))
        S = S / torch.outer(sd, sd)
    return S.cpu().numpy()


def inverse(S: np.ndarray, *, device: str | None = None) -> np.ndarray:
    """``S⁻¹`` of a symmetric positive definite ``(d, d)`` matrix on ``device``
    (Cholesky, float64; the general inverse when ``S`` is not positive definite to
    working precision).

    Parameters
    ----------
    S : ndarray of shape (d, d)
        Symmetric positive definite.
    device : str or None, default None
        ``None``: :func:`numpy.linalg.inv`; else a PyTorch device (see
        :func:`resolve_device`).

    Returns
    -------
    ndarray of shape (d, d)
        float64, on the CPU.

    Raises
    ------
    InvalidInputError
        When ``device`` cannot be used (see :func:`resolve_device`).
    """
    dev = resolve_device(device)
    if dev is None:
        return np.linalg.inv(S)
    torch = _torch()
    T = torch.tensor(np.asarray(S, dtype=np.float64), device=dev)
    L, info = torch.linalg.cholesky_ex(T)
    if int(info) != 0:  # not positive definite to working precision: the general inverse
        return torch.linalg.inv(T).cpu().numpy()
    return torch.cholesky_inverse(L).cpu().numpy()
