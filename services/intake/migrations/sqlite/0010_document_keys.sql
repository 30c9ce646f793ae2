-- Housekeeping asks whether a stored file is named by a document row.
CREATE INDEX request_documents_object_key ON request_documents (object_key);
