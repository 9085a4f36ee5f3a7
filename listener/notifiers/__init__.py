"""Notifiers: one module per kind (``slack``, ``console``), each with ``build(...) -> Notifier``."""
