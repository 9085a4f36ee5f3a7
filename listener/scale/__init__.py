"""Scale-out on PostgreSQL: procrastinate workers for the score and dispatch queues, one
leader (a PostgreSQL advisory lock) running the collectors, and the queue's upkeep.

The stages are the same functions the single-process daemon runs (``listener.stages``);
this package only carries their inputs (batches of mention ids, alert ids) between processes.
"""
