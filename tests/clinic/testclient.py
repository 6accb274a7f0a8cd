"""Starlette's TestClient, imported once with its httpx-vs-httpx2 deprecation silenced.

Starlette 1.x warns at import when only httpx (not httpx2) is installed; the project pins httpx,
so the warning says nothing about our code.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
