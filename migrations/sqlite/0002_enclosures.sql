-- Enclosures (JSON array of {url, mime_type, length}) and a preview image per entry.
ALTER TABLE entries ADD COLUMN enclosures TEXT NOT NULL DEFAULT '[]';
ALTER TABLE entries ADD COLUMN image TEXT;
