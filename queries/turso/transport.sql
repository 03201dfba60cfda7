-- SQL the Turso transport sends of its own, next to the queries: not slots of
-- pgqrs_queries, but one '-- statement:' each, prepared against the migrated
-- SQLite schema like every query. The generator knows which ones it needs.

-- statement: changes
-- Appended to every :execrows request, in the same batch and transaction:
-- servers need not fill affected_row_count (tursodb always says 0), and
-- changes() right after the statement is exact.
SELECT changes();
