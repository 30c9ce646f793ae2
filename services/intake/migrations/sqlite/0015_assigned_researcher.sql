-- The researcher research assigned a case to (from its event): the one
-- researcher who may open the case's documents.
ALTER TABLE service_requests ADD COLUMN assigned_researcher TEXT;
