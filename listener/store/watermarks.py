"""Where a job got to: named timestamps in the ``watermarks`` table (``alerting.Watermarks``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from listener.store.dialect import insert_for
from listener.store.schema import watermarks


class SqlWatermarks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(watermarks.c.at).where(watermarks.c.name == name)
            ).scalar_one_or_none()

    def set(self, name: str, at: datetime) -> None:
        self.set_many({name: at})

    def get_many(self, names: list[str]) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(watermarks.c.name, watermarks.c.at).where(watermarks.c.name.in_(names))
            )
            return {name: at for name, at in rows if at is not None}

    def set_many(self, marks: dict[str, datetime]) -> None:
        if not marks:
            return
        with self.engine.begin() as conn:
            stmt = insert_for(conn, watermarks)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["name"], set_={"at": stmt.excluded.at}),
                [{"name": n, "at": at} for n, at in sorted(marks.items())],
            )
