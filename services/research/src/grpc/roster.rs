//! The roster over gRPC: supervisors read it, add and change researchers'
//! entries, and record or cancel their leave. Every change is on the trail,
//! and wakes the assignment of the cases waiting for someone.

use super::Research;
use crate::roster::{RosterEntry, other_leaves};
use chrono::Utc;
use masar_domain::ActorRole;
use masar_domain::calendar::saudi_day;
use masar_domain::roster::{Gender, RosterEntered, check_leave, check_roster_entry};
use masar_domain::{Bilingual, FieldError};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::Tx;
use masar_platform::grpc::{Problem, changed_meanwhile, ensure_version, invalid_input, parse_uuid};
use masar_platform::identity::Staff;
use masar_proto::research::v1 as api;
use tonic::{Code, Request, Status};

/// Who keep the roster: the branch manager (their branch) and the association admin.
const KEEPERS: &[ActorRole] = &[ActorRole::BranchManager, ActorRole::AssociationAdmin];

fn not_on_roster() -> Status {
    Problem::new(Bilingual::new("ليس في سجل الباحثين", "Not on the researchers' roster"))
        .because("roster.not_found")
        .into_status(Code::NotFound)
}

fn entry_reply(entry: RosterEntry, open_cases: u32) -> api::RosterEntry {
    let r = entry.researcher;
    api::RosterEntry {
        branch: r.branch.unwrap_or_default(),
        gender: r.gender.map(|g| g.to_string()).unwrap_or_default(),
        specialties: r.specialties,
        capacity: r.capacity.unwrap_or(0),
        active: entry.active,
        leaves: entry
            .leaves
            .iter()
            .map(|(id, leave)| api::RosterLeave {
                leave_id: id.to_string(),
                from: leave.from.to_string(),
                to: leave.to.to_string(),
            })
            .collect(),
        open_cases,
        version: entry.version,
        updated_by: entry.updated_by,
        updated_at: Some(masar_proto::timestamp(entry.updated_at)),
        username: r.username,
        name: r.name,
    }
}

impl Research {
    /// A researcher's entry within the caller's scope; outside it, not found.
    async fn visible_entry(&self, tx: &mut Tx, staff: &Staff, username: &str) -> Result<RosterEntry, Status> {
        let entry = self.store.roster_entry(tx, &staff.association, username.trim(), &self.directory).await?;
        entry
            .filter(|e| staff.can_see(&staff.association, e.researcher.branch.as_deref().unwrap_or_default()))
            .ok_or_else(not_on_roster)
    }

    async fn entry_with_open_cases(
        &self,
        tx: &mut Tx,
        association: &str,
        entry: RosterEntry,
    ) -> Result<api::RosterEntry, Status> {
        let open = self.store.open_cases(tx, association, &[entry.researcher.username.as_str()]).await?;
        let count = open.get(&entry.researcher.username).copied().unwrap_or(0);
        Ok(entry_reply(entry, count))
    }

    /// The change is kept: on the trail, and the waiting cases looked at again.
    async fn roster_changed(
        &self,
        tx: &mut Tx,
        staff: &Staff,
        request: &Request<impl Send>,
        (branch, detail): (&str, &str),
    ) -> Result<(), Status> {
        let subject = Subject::outside_a_case(&staff.association, branch);
        audit::record(tx, &Actor::staff(staff, request), subject, action::ROSTER_CHANGED, detail).await?;
        Ok(())
    }

    pub(super) async fn list_roster_call(
        &self,
        request: Request<api::ListRosterRequest>,
    ) -> Result<api::Roster, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(KEEPERS)?;
        let branch = staff.branch_filter(&request.get_ref().branch);
        let mut tx = self.store.db().begin().await?;
        let roster = self.store.roster(&mut tx, &staff.association, branch.as_deref(), &self.directory).await?;
        let usernames: Vec<&str> = roster.iter().map(|e| e.researcher.username.as_str()).collect();
        let open = self.store.open_cases(&mut tx, &staff.association, &usernames).await?;
        tx.commit().await?;
        let entries = roster
            .into_iter()
            .map(|e| {
                let count = open.get(&e.researcher.username).copied().unwrap_or(0);
                entry_reply(e, count)
            })
            .collect();
        Ok(api::Roster { entries })
    }

    pub(super) async fn set_roster_entry_call(
        &self,
        request: Request<api::SetRosterEntryRequest>,
    ) -> Result<api::RosterEntry, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(KEEPERS)?;
        let input = request.get_ref();
        let username = input.username.trim();
        let mut tx = self.store.db().begin().await?;
        let existing = self.store.roster_entry(&mut tx, &staff.association, username, &self.directory).await?;
        // Only a social researcher the directory knows; an entry outside the caller's branch looks missing.
        let in_directory = self
            .directory
            .association(&staff.association)
            .is_some_and(|a| a.staff.iter().any(|s| s.username == username && s.role == ActorRole::SocialResearcher));
        let visible = existing
            .as_ref()
            .is_none_or(|e| staff.can_see(&staff.association, e.researcher.branch.as_deref().unwrap_or_default()));
        // Someone the association does not know looks missing; one of its staff in another post is told why.
        let of_the_association = self
            .directory
            .association(&staff.association)
            .is_some_and(|a| a.staff.iter().any(|s| s.username == username));
        if !visible || !of_the_association {
            return Err(not_on_roster());
        }
        if !in_directory {
            return Err(invalid_input(vec![FieldError::new(
                "username",
                Bilingual::new(
                    "ليس باحثاً اجتماعياً في دليل الجمعية",
                    "Not a social researcher in the association's directory",
                ),
            )]));
        }
        // A branch manager's researchers stay in their branch: another is refused, not silently replaced.
        let asked = input.branch.trim();
        if staff.role.is_branch_bound() && !asked.is_empty() && staff.branch.as_deref() != Some(asked) {
            return Err(Problem::new(Bilingual::new(
                "تدير باحثي فرعك فقط",
                "You keep your own branch's researchers only",
            ))
            .into_status(Code::PermissionDenied));
        }
        ensure_version(input.expected_version, existing.as_ref().map_or(0, |e| e.version))?;
        let today = saudi_day(Utc::now());
        let pack = self.policies.in_force(&staff.association, today).await?.ok_or_else(|| {
            Problem::new(Bilingual::new("لا توجد سياسة سارية للجمعية", "The association has no policy in force"))
                .into_status(Code::FailedPrecondition)
        })?;
        // A branch manager's researchers are their branch's.
        let branch = staff.branch_filter(&input.branch).unwrap_or_default();
        let entered = RosterEntered {
            branch: &branch,
            gender: &input.gender,
            specialties: &input.specialties,
            capacity: input.capacity,
            active: input.active,
        };
        let change = check_roster_entry(entered, &pack).map_err(invalid_input)?;
        let version = existing.as_ref().map_or(0, |e| e.version);
        let at = (staff.username.as_str(), Utc::now());
        if !self.store.set_roster_entry(&mut tx, (&staff.association, username), &change, version, at).await? {
            return Err(changed_meanwhile());
        }
        let detail = format!(
            "{username}: {}, {}, capacity {}, specialties [{}], gender {}",
            change.branch,
            if change.active { "on duty" } else { "off duty" },
            change.capacity.map_or("no limit".to_owned(), |c| c.to_string()),
            change.specialties.join(", "),
            change.gender.map_or("unset", Gender::as_str),
        );
        self.roster_changed(&mut tx, &staff, &request, (&change.branch, &detail)).await?;
        let entry = self.visible_entry(&mut tx, &staff, username).await?;
        let reply = self.entry_with_open_cases(&mut tx, &staff.association, entry).await?;
        tx.commit().await?;
        self.roster_moved.notify_one();
        Ok(reply)
    }

    pub(super) async fn add_leave_call(
        &self,
        request: Request<api::AddLeaveRequest>,
    ) -> Result<api::RosterEntry, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(KEEPERS)?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let entry = self.visible_entry(&mut tx, &staff, &input.username).await?;
        ensure_version(input.expected_version, entry.version)?;
        let today = saudi_day(Utc::now());
        let leave = check_leave(&input.from, &input.to, today, &other_leaves(&entry)).map_err(invalid_input)?;
        let username = entry.researcher.username.clone();
        let branch = entry.researcher.branch.clone().unwrap_or_default();
        let at = (staff.username.as_str(), Utc::now());
        if self.store.add_leave(&mut tx, (&staff.association, &username), &leave, entry.version, at).await?.is_none() {
            return Err(changed_meanwhile());
        }
        let detail = format!("{username}: leave {} to {}", leave.from, leave.to);
        self.roster_changed(&mut tx, &staff, &request, (&branch, &detail)).await?;
        let entry = self.visible_entry(&mut tx, &staff, &username).await?;
        let reply = self.entry_with_open_cases(&mut tx, &staff.association, entry).await?;
        tx.commit().await?;
        Ok(reply)
    }

    pub(super) async fn cancel_leave_call(
        &self,
        request: Request<api::CancelLeaveRequest>,
    ) -> Result<api::RosterEntry, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(KEEPERS)?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let entry = self.visible_entry(&mut tx, &staff, &input.username).await?;
        ensure_version(input.expected_version, entry.version)?;
        let leave_id = parse_uuid("leave_id", &input.leave_id)?;
        let username = entry.researcher.username.clone();
        let branch = entry.researcher.branch.clone().unwrap_or_default();
        let at = (staff.username.as_str(), Utc::now());
        if !self.store.cancel_leave(&mut tx, (&staff.association, &username), leave_id, entry.version, at).await? {
            return Err(invalid_input(vec![FieldError::new(
                "leave_id",
                Bilingual::new("لا توجد إجازة بهذا المعرّف", "No such leave of theirs"),
            )]));
        }
        let detail = format!("{username}: leave {leave_id} cancelled");
        self.roster_changed(&mut tx, &staff, &request, (&branch, &detail)).await?;
        let entry = self.visible_entry(&mut tx, &staff, &username).await?;
        let reply = self.entry_with_open_cases(&mut tx, &staff.association, entry).await?;
        tx.commit().await?;
        self.roster_moved.notify_one();
        Ok(reply)
    }
}
