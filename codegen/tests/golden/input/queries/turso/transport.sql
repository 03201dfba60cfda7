-- What the Turso transport sends of its own.

-- statement: changes
-- Asked after every :execrows statement, in the same batch.
SELECT changes();
