"""Where a job got to: named timestamps in the ``watermarks`` table."""

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
        with self.engine.begin() as conn:
            stmt = insert_for(conn, watermarks).values(name=name, at=at)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": at}))
