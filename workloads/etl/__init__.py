"""Structured ETL: TPC-H queries on parquet, on every engine's dataframe/SQL API."""
