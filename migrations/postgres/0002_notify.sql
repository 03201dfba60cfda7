-- Wake-up instead of polling (pgqrs_dequeue_wait): a message that becomes
-- visible notifies channel pgqrs_messages with its queue id as the payload.
-- Inserts notify once per statement and queue (a batch of 1,000 sends one
-- notification); PostgreSQL also folds identical notifications within a
-- transaction. A release that moves vt earlier notifies too; a dequeue, which
-- moves vt later, does not (the row trigger's WHEN skips it).

CREATE FUNCTION pgqrs_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgqrs_messages', q.queue_id::text)
    FROM (SELECT DISTINCT queue_id FROM inserted) q;
    RETURN NULL;
END
$$;

CREATE TRIGGER pgqrs_messages_notify_insert
    AFTER INSERT ON pgqrs_messages
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION pgqrs_notify_inserted();

CREATE FUNCTION pgqrs_notify_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgqrs_messages', NEW.queue_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER pgqrs_messages_notify_release
    AFTER UPDATE OF vt ON pgqrs_messages
    FOR EACH ROW WHEN (NEW.vt < OLD.vt)
    EXECUTE FUNCTION pgqrs_notify_released();
