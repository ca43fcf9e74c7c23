-- A source's consecutive failed polls and the last one's error, so that `tributary sources`
-- can tell a failing source from one never polled. Reset by the next successful poll.
ALTER TABLE source_state ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE source_state ADD COLUMN last_error TEXT;
