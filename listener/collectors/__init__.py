"""Collectors, one per file; the file name is the config section (``[twitter]``, ``[reddit]``,
``[replay]``). Each module exposes ``build(settings, ...) -> Collector``."""
