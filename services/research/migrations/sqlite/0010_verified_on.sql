-- What verification accepted each case on (masar.research.v1.VerifiedOn,
-- protobuf-encoded: the documents with their fingerprints and reviews, the
-- rules judged one by one), for the research file and the committee's
-- evidence; replaced when a case is verified again.
CREATE TABLE verified_on (
    request_id TEXT PRIMARY KEY,
    verified   BLOB NOT NULL
);
