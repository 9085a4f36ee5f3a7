"""Operations: Prometheus metrics and /healthz served from a thread, job monitoring, and the
state that ``listener status`` reports (``report``). Nothing here imports sqlalchemy, torch or
the API clients: the App hands over plain callables and results."""
