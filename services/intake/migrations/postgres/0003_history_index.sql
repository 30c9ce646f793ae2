-- Earlier requests of one beneficiary, for "no approved request of the same type within N months".
CREATE INDEX service_requests_beneficiary ON service_requests (association, national_id, service_type);
