"""Local implementations of the sample cases; CALLS counts invocations per case."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from enginebench import EngineContext
from enginebench.contract.spec import Implementation, Params, Staged

CALLS: Counter[str] = Counter()


def good(ctx: EngineContext, params: Params, inputs: Any) -> int:
    CALLS["good"] += 1
    assert ctx.engine == "local" and ctx.handle.cpus == ctx.budget.cpus
    return int(inputs)


def wrong(ctx: EngineContext, params: Params, inputs: Any) -> int:
    CALLS["wrong"] += 1
    return int(inputs) + 1


def boom(ctx: EngineContext, params: Params, inputs: Any) -> int:
    CALLS["boom"] += 1
    raise ValueError("kaboom\nsecond line of the message")


def sleepy(ctx: EngineContext, params: Params, inputs: Any) -> int:
    CALLS["sleepy"] += 1
    time.sleep(30)
    return int(inputs)


#: How long `paced` sleeps; tests change it to plant a slowdown between two runs.
PACE = {"seconds": 0.02}


def paced(ctx: EngineContext, params: Params, inputs: Any) -> int:
    time.sleep(PACE["seconds"])
    return int(inputs)


def flaky(ctx: EngineContext, params: Params, inputs: Any) -> int:
    CALLS["flaky"] += 1
    return int(inputs) + (CALLS["flaky"] == 2)


def load(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, int]:
    CALLS["load"] += 1
    time.sleep(0.2)
    return {"loaded": int(inputs)}


def staged(ctx: EngineContext, params: Params, data: dict[str, int]) -> int:
    CALLS["staged"] += 1
    return data["loaded"]


def unload(ctx: EngineContext, params: Params, data: dict[str, int]) -> None:
    CALLS["unload"] += 1


CASES: dict[str, Implementation | Staged] = {"good": good, "wrong": wrong, "boom": boom, "sleepy": sleepy,
                                             "flaky": flaky, "staged": Staged(load, staged, unload), "referenced": good,
                                             "elsewhere": good, "paced": paced}
UNSUPPORTED = {"missing": "local cannot express this case"}
NOTES = {"good": "a plain call"}
#: For `enginebench variants`: `paced` written slower, `good` written wrong.
DEFAULT_VARIANT = "plain"


def slower(ctx: EngineContext, params: Params, inputs: Any) -> int:
    time.sleep(PACE["seconds"])
    return paced(ctx, params, inputs)


VARIANTS = {"slower": {"paced": slower}, "off-by-one": {"good": wrong}}
VARIANT_NOTES = {"slower": "sleeps twice as long", "off-by-one": "answers one too many"}
