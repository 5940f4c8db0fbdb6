"""Daft: none of the cases. Daft is a DataFrame engine: work reaches it as columns of a DataFrame and Python
only as a UDF applied to them, so it has no API to submit an arbitrary remote function, await one task,
chain tasks on tasks, keep a stateful actor or put an object into a shared store; a UDF over a DataFrame of N
rows would measure Daft's UDF batching, not task scheduling."""

from __future__ import annotations

_NO_TASKS = ("Daft is a DataFrame engine: it has no task API for arbitrary remote functions (work runs as "
             "expressions or UDFs over a DataFrame's columns)")

UNSUPPORTED: dict[str, str] = {
    "noop": f"{_NO_TASKS}, so there are no empty tasks to submit and gather",
    "fanout": f"{_NO_TASKS}, so N independent function calls with a fan-in cannot be submitted as tasks",
    "tree-reduce": f"{_NO_TASKS}, and no task can take other tasks' results as its inputs (no task graph)",
    "actors": "Daft has no actors: a @daft.cls instance lives inside one query's UDF operator and cannot be "
              "called from the driver between queries, so a long-lived stateful object answering calls cannot "
              "be expressed",
    "latency": f"{_NO_TASKS}: the nearest thing, a one-row query, measures query planning and execution, not "
               "a task's round trip",
    "object-transfer": "Daft has no object store: there is no put of an object into the engine that tasks then "
                       "read by reference (data enters a query as a DataFrame)",
}
