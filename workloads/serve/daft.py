"""Daft: not the case. Daft runs batch queries; it has no online serving (no HTTP endpoint, no request-reply
deployment). The case's own `only` names the engines that can run it; this file's reason is the one shown."""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "predict": "no online serving: Daft runs batch DataFrame queries, it has no request-reply endpoint or model "
               "deployment; a model server beside it would be the local baseline again",
}
