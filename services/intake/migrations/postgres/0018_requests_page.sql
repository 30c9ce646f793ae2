-- A branch's requests are listed newest first, a page at a time: this index
-- gives a page as a search from where the last one ended (`make bench` at
-- scale), where the scope index alone sorted every request of the branch.
CREATE INDEX service_requests_page ON service_requests (association, branch, submitted_at, request_id);
