//! Masar's end-to-end suite: one test binary, every test with its own
//! PostgreSQL database, Redis stream prefix and data directory.

mod accounts;
mod api_docs;
mod assignment;
mod at_rest;
mod audit;
mod authorization;
mod bench_limits;
mod claims;
mod committee;
mod documents;
mod faults;
mod front_ends;
mod idempotency;
mod inquiries;
mod journey;
mod latency;
mod messaging;
mod metrics;
mod pages;
mod refusals;
mod research;
mod roster;
mod satisfaction;
mod seed;
mod sessions;
mod stores;
mod supervision;
mod support;
mod trace;
mod versions;
