-- The agenda a member reads is its items awaiting a decision, a page at a
-- time in the order they were scheduled: this index holds only those, so a
-- page reads its own rows however many the committee decided before. Its
-- condition is written exactly as the store's query writes it, so both
-- planners see that the index answers it.
CREATE INDEX agenda_items_awaiting ON agenda_items (agenda_id, scheduled_at, request_id)
    WHERE status = 'on_committee_agenda';
