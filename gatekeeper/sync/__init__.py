"""The sync step: publish only policy-compliant state to the branch Argo CD or Flux pulls from.

``step`` orchestrates (export the source commit, render, re-check, publish); ``render`` and
``manifest`` produce deterministic files; ``tree``, ``publish`` and ``target`` write git
objects and move refs with compare-and-swap; ``drift`` and ``verify`` read only.
"""

from __future__ import annotations

from gatekeeper.sync.errors import SyncError
from gatekeeper.sync.step import SyncRequest, SyncResult, drift, sync, verify_branch

__all__ = ["SyncError", "SyncRequest", "SyncResult", "drift", "sync", "verify_branch"]
