"""Trends for analysts: the typed query API (``query``), complaint drivers, reports and charts.

Nothing here imports sqlalchemy: ``listener.store.trends.SqlTrendsReader`` implements
``TrendsReader`` over the rollup tables.
"""
