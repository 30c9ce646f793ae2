-- An agenda's items are read by agenda, in the order they were scheduled
-- (the committee's console, every vote): a search of this index, not a
-- scan of every item ever scheduled (`make bench` at scale).
CREATE INDEX agenda_items_by_agenda ON agenda_items (agenda_id, scheduled_at);
