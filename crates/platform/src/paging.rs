//! Cursor pagination for lists. A page ends at its last row's position
//! (its time, then its id, in the list's order: newest first for the list
//! of requests, oldest first for work queues); the next page starts after it.
//! Unlike an offset, a cursor neither repeats nor skips a row when new ones
//! arrive between pages. The token is opaque to callers.

use crate::db::Sql;
use crate::grpc::invalid_input;
use chrono::{DateTime, Utc};
use masar_domain::{Bilingual, FieldError};
use tonic::Status;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A row's place in a list ordered by time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page asked for: how many rows, after which position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub after: Option<Position>,
}

/// The first page, of the default size.
impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { size: DEFAULT_PAGE_SIZE, after: None }
    }
}

fn bad_token() -> Status {
    invalid_input(vec![FieldError::new(
        "page_token",
        Bilingual::new(
            "رمز الصفحة غير صالح؛ ابدأ من الصفحة الأولى",
            "Not a valid page token; start from the first page",
        ),
    )])
}

impl PageRequest {
    /// Reads `page_size` (0: the default; capped) and the previous page's `page_token`.
    pub fn read(page_size: u32, page_token: &str) -> Result<PageRequest, Status> {
        let size = match page_size {
            0 => Self::default().size,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = match page_token.trim() {
            "" => None,
            token => Some(Self::position_in(token).ok_or_else(bad_token)?),
        };
        Ok(PageRequest { size, after })
    }

    fn position_in(token: &str) -> Option<Position> {
        let (nanos, id) = token.split_once('.')?;
        let at = DateTime::from_timestamp_nanos(nanos.parse().ok()?);
        Some(Position { at, id: Uuid::try_parse(id).ok()? })
    }

    /// How many rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// Trims the rows fetched to the page; returns them with the token of the
    /// next page (empty on the last).
    pub fn finish<T>(&self, mut rows: Vec<T>, position: impl Fn(&T) -> Position) -> (Vec<T>, String) {
        if rows.len() <= self.size as usize {
            return (rows, String::new());
        }
        rows.truncate(self.size as usize);
        let token = rows.last().map(|row| token_of(position(row))).unwrap_or_default();
        (rows, token)
    }
}

/// A keyset page's placeholders, bound the one way every list writes them.
impl Sql {
    /// Where the page starts: the previous page's last time and id, or NULL twice on the first page.
    pub fn bind_after(self, page: &PageRequest) -> Self {
        self.bind(page.after.map(|p| p.at)).bind(page.after.map(|p| p.id))
    }

    /// Where the page starts, then how many rows to fetch: a list query's last three placeholders.
    pub fn bind_page(self, page: &PageRequest) -> Self {
        self.bind_after(page).bind(page.fetch())
    }

    /// A row's position: its time, then its id.
    pub fn bind_position(self, position: Position) -> Self {
        self.bind(position.at).bind(position.id)
    }
}

fn token_of(position: Position) -> String {
    // Nanoseconds fit an i64 until 2262.
    format!("{}.{}", position.at.timestamp_nanos_opt().unwrap_or(i64::MAX), position.id.simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(PageRequest::read(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::read(5, "").unwrap().size, 5);
        assert_eq!(PageRequest::read(10_000, "").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn a_page_names_where_the_next_one_starts() {
        let at = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        let rows: Vec<Position> = (0..3).map(|_| Position { at, id: Uuid::now_v7() }).collect();
        let page = PageRequest::read(2, "").unwrap();
        let (shown, token) = page.finish(rows.clone(), |p| *p);
        assert_eq!(shown, rows[..2]);
        assert_eq!(PageRequest::read(2, &token).unwrap().after, Some(rows[1]));
        let (last, token) = page.finish(rows[..2].to_vec(), |p| *p);
        assert_eq!((last.len(), token.as_str()), (2, ""));
        for bad in ["x", "12.zz", ".", "1.2.3"] {
            assert_eq!(PageRequest::read(2, bad).unwrap_err().code(), Code::InvalidArgument, "{bad}");
        }
    }
}
