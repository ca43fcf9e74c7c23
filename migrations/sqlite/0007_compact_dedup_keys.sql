-- The duplicate lookups' indexes are keyed by a short, well-spread part of what they find: the
-- first 16 hex digits of the content hash (64 bits of blake3), the last 24 characters of the
-- canonical link (where links differ). Lookups compare the whole value too, so a shared key
-- costs a row read, never a wrong answer. The full values made these the largest indexes, and
-- with random keys each new entry rewrites a leaf page of each: shortening them cut what a
-- 10,000-source poll cycle writes to disk by a seventh (BENCHMARKS.md).
DROP INDEX entries_by_hash;
CREATE INDEX entries_by_hash ON entries (substr(content_hash, 1, 16));
DROP INDEX entries_by_link;
CREATE INDEX entries_by_link ON entries (substr(canonical_link, -24));
