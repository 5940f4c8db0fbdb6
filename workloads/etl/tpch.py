"""The TPC-H queries' constants, for the engines that write the queries by hand (Dask, Ray Data, the
Spark DataFrame variants); the SQL engines run DuckDB's query text, which has the same values.

Substitution parameters are the TPC-H validation values (spec 2.4.x.3), the ones DuckDB's published
answers were computed with. Date windows are half-open, (first day, day after the last); a range is
closed where the SQL says BETWEEN. Result columns are in the order of the query's SELECT list;
sort keys pair with the ascending flags (pandas' sort_values(by, ascending), Spark's orderBy).
Imports only datetime: engines, the check and the benchmarks can all use it.
"""

from __future__ import annotations

import datetime as dt

# -- Q1: pricing summary report --------------------------------------------------------------------
#: l_shipdate <= date '1998-12-01' - interval 90 day
Q1_SHIPDATE_MAX = dt.date(1998, 9, 2)
#: group-by and sort keys (both ascending)
Q1_KEYS = ("l_returnflag", "l_linestatus")
Q1_COLUMNS = ("l_returnflag", "l_linestatus", "sum_qty", "sum_base_price", "sum_disc_price", "sum_charge",
              "avg_qty", "avg_price", "avg_disc", "count_order")

# -- Q3: shipping priority ---------------------------------------------------------------------------
Q3_SEGMENT = "BUILDING"
#: o_orderdate < Q3_DATE and l_shipdate > Q3_DATE
Q3_DATE = dt.date(1995, 3, 15)
Q3_KEYS = ("l_orderkey", "o_orderdate", "o_shippriority")
Q3_SORT_BY = ("revenue", "o_orderdate")
Q3_ASCENDING = (False, True)
Q3_LIMIT = 10
Q3_COLUMNS = ("l_orderkey", "revenue", "o_orderdate", "o_shippriority")

# -- Q5: local supplier volume -----------------------------------------------------------------------
Q5_REGION = "ASIA"
#: o_orderdate in [1994-01-01, 1995-01-01)
Q5_ORDERDATE = (dt.date(1994, 1, 1), dt.date(1995, 1, 1))
Q5_SORT_BY = ("revenue",)
Q5_ASCENDING = (False,)
Q5_COLUMNS = ("n_name", "revenue")

# -- Q6: forecasting revenue change ------------------------------------------------------------------
#: l_shipdate in [1994-01-01, 1995-01-01)
Q6_SHIPDATE = (dt.date(1994, 1, 1), dt.date(1995, 1, 1))
#: l_discount BETWEEN 0.05 AND 0.07 (closed; written as in the SQL, not as 0.06 -/+ 0.01, which rounds)
Q6_DISCOUNT = (0.05, 0.07)
#: l_quantity < 24 (exclusive)
Q6_QUANTITY_BELOW = 24
Q6_COLUMNS = ("revenue",)

# -- Q10: returned item reporting --------------------------------------------------------------------
#: o_orderdate in [1993-10-01, 1994-01-01)
Q10_ORDERDATE = (dt.date(1993, 10, 1), dt.date(1994, 1, 1))
Q10_RETURNFLAG = "R"
Q10_KEYS = ("c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment")
Q10_SORT_BY = ("revenue",)
Q10_ASCENDING = (False,)
Q10_LIMIT = 20
Q10_COLUMNS = ("c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment")
