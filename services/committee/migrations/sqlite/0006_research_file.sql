-- The research file each case was recommended with (masar.research.v1.ResearchFile,
-- protobuf-encoded): the scores, bands, visits and what research proposes,
-- as the committee weighs them. Empty for cases recommended before it was carried.
ALTER TABLE agenda_items ADD COLUMN research_file BLOB NOT NULL DEFAULT x'';
