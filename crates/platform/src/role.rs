//! The roles one `masar` binary can run.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Intake,
    Identity,
    Verification,
    Research,
    Committee,
    Notification,
    Gateway,
}

impl Role {
    pub const SERVICES: [Role; 6] =
        [Role::Intake, Role::Identity, Role::Verification, Role::Research, Role::Committee, Role::Notification];
    pub const ALL: [Role; 7] = [
        Role::Intake,
        Role::Identity,
        Role::Verification,
        Role::Research,
        Role::Committee,
        Role::Notification,
        Role::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Intake => "intake",
            Role::Identity => "identity",
            Role::Verification => "verification",
            Role::Research => "research",
            Role::Committee => "committee",
            Role::Notification => "notification",
            Role::Gateway => "gateway",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Role::Intake => 50051,
            Role::Verification => 50052,
            Role::Research => 50053,
            Role::Committee => 50054,
            Role::Notification => 50055,
            Role::Identity => 50056,
            Role::Gateway => 8080,
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The PostgreSQL schema (or SQLite file stem) holding this role's data.
    pub fn schema(self) -> &'static str {
        self.name()
    }

    /// The environment prefix of this role's overrides, e.g. `MASAR_INTAKE_`.
    pub fn env_prefix(self) -> String {
        format!("MASAR_{}_", self.name().to_ascii_uppercase())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
