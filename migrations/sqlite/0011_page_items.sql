-- How many items a page source's recipe found on its last good poll: a page that suddenly
-- gives far fewer, or none, has likely changed its markup.
ALTER TABLE source_state ADD COLUMN page_items INTEGER;
