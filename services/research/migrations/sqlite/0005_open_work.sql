-- A researcher's, a branch's and an association's open work, oldest first,
-- each an index walked in order: only the open assignments are in them, so a
-- page reads its rows and no more however many cases were decided before.
-- The condition is written exactly as the store's queries write it, so both
-- planners see that these indexes answer them.
CREATE INDEX research_assignments_open_of_researcher ON research_assignments (association, researcher, assigned_at, request_id)
    WHERE status IN ('researcher_assigned', 'field_visit_recorded');
CREATE INDEX research_assignments_open_of_branch ON research_assignments (association, branch, assigned_at, request_id)
    WHERE status IN ('researcher_assigned', 'field_visit_recorded');
CREATE INDEX research_assignments_open_of_association ON research_assignments (association, assigned_at, request_id)
    WHERE status IN ('researcher_assigned', 'field_visit_recorded');
-- Counting a researcher's open cases uses the first.
DROP INDEX research_assignments_researcher;
