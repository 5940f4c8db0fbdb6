"""enginebench: identical workloads on Ray, Dask, Spark-on-Ray, Spark and a local baseline.

Importing this package must stay cheap: no engine (ray, pyspark, dask, torch) is imported here.
"""

__version__ = "0.1.0"
