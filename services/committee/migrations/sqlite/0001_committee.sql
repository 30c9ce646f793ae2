-- One open agenda per branch at a time; recommended cases join it.
CREATE TABLE agendas (
    agenda_id   TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    branch      TEXT NOT NULL,
    opened_at   TEXT NOT NULL
);
CREATE INDEX agendas_branch ON agendas (association, branch, opened_at);

CREATE TABLE agenda_items (
    request_id     TEXT PRIMARY KEY,
    agenda_id      TEXT NOT NULL REFERENCES agendas (agenda_id),
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    service_type   TEXT NOT NULL,
    researcher     TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    status         TEXT NOT NULL,
    decision       TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    scheduled_at   TEXT NOT NULL
);

CREATE TABLE votes (
    request_id TEXT NOT NULL REFERENCES agenda_items (request_id),
    member     TEXT NOT NULL,
    vote       TEXT NOT NULL,
    note       TEXT NOT NULL,
    cast_at    TEXT NOT NULL,
    PRIMARY KEY (request_id, member)
);
