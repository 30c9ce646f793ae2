//! The beneficiary's rating of a delivered service. Rating is their right,
//! and the figures are for improving the service, not for judging people:
//! a rating names the case's scope and service type, never a staff member.
//!
//! Nor may figures single a beneficiary out. They are published by cells,
//! one per branch, service type and calendar month: a month's cells only
//! once the month has ended, and a cell only with [`FEWEST_RATINGS_SHOWN`]
//! ratings or more (a smaller one counts nowhere). Any figure, and any
//! difference between two figures (before and after a rating, one range
//! against another, the association against one of its branches), is then
//! made of whole cells of at least that many ratings: reading the figures
//! around the time the trail dates one rating tells nothing of its score.

use crate::{Bilingual, FieldError};
use chrono::{Datelike as _, Days, NaiveDate};

/// The longest comment kept; a longer one is refused, not cut.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// Below this many ratings a service type's scores are withheld: so few
/// would point at the few people served, and at whoever served them.
pub const FEWEST_RATINGS_SHOWN: u64 = 5;

/// A valid rating: a score from 1 (very dissatisfied) to 5 (very satisfied)
/// and an optional comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    score: u8,
    comment: String,
}

impl Rating {
    /// Checks both fields, reporting every problem at once.
    pub fn new(score: u32, comment: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let score = u8::try_from(score).ok().filter(|s| (1..=5).contains(s));
        if score.is_none() {
            errors.push(FieldError::new(
                "score",
                Bilingual::new("التقييم رقم من ١ إلى ٥", "The score is a whole number from 1 to 5"),
            ));
        }
        let rule = crate::TextRule { kind: crate::TextKind::Paragraph, max_chars: MAX_COMMENT_CHARS };
        let comment =
            crate::clean_text("comment", comment, rule).map_err(|problem| errors.push(problem)).unwrap_or_default();
        match score {
            Some(score) if errors.is_empty() => Ok(Self { score, comment: comment.to_owned() }),
            _ => Err(errors),
        }
    }

    pub fn score(&self) -> u8 {
        self.score
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }
}

/// How satisfied the beneficiaries of one service type were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Satisfaction {
    /// How many ratings gave each score: `by_score[0]` counts the 1s, `by_score[4]` the 5s.
    pub by_score: [u64; 5],
}

impl Satisfaction {
    /// Counts `ratings` more ratings of `score` (1 to 5; anything else is ignored).
    pub fn add(&mut self, score: u8, ratings: u64) {
        if let Some(count) = (score as usize).checked_sub(1).and_then(|i| self.by_score.get_mut(i)) {
            *count += ratings;
        }
    }

    pub fn ratings(&self) -> u64 {
        self.by_score.iter().sum()
    }

    /// Whether there are enough ratings to show their scores.
    pub fn is_shown(&self) -> bool {
        self.ratings() >= FEWEST_RATINGS_SHOWN
    }

    /// There are ratings, but too few to show their scores.
    pub fn is_withheld(&self) -> bool {
        self.ratings() > 0 && !self.is_shown()
    }

    /// The mean score, or `None` before the first rating.
    pub fn average(&self) -> Option<f64> {
        let total: u64 = self.by_score.iter().zip(1..).map(|(count, score)| count * score).sum();
        let ratings = self.ratings();
        (ratings > 0).then(|| total as f64 / ratings as f64)
    }

    /// The share of ratings of 4 or 5, in percent: the usual satisfaction rate.
    pub fn satisfied_percent(&self) -> Option<f64> {
        let ratings = self.ratings();
        (ratings > 0).then(|| (self.by_score[3] + self.by_score[4]) as f64 * 100.0 / ratings as f64)
    }
}

/// The first day of `day`'s month.
fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

/// The whole, ended months that may be published for the range `from`
/// (empty: from the first rating) to `to`, asked on `today`: from the start
/// of `from`'s month to the end of the last month that ended by `to` and
/// before today. `None` when no such month is in the range.
pub fn published_months(
    from: Option<NaiveDate>,
    to: NaiveDate,
    today: NaiveDate,
) -> Option<(Option<NaiveDate>, NaiveDate)> {
    let day_after = to.checked_add_days(Days::new(1))?;
    // The month `to` closes (when it is a month's last day), or the one before it; never the current one.
    let end = month_start(day_after.min(today)).pred_opt()?;
    let start = from.map(month_start);
    match start {
        Some(start) if start > end => None,
        _ => Some((start, end)),
    }
}

/// The figures of one service type, made of the cells that may be published.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// The publishable cells, summed.
    pub shown: Satisfaction,
    /// Ratings in cells too small to publish: counted nowhere else.
    pub withheld_ratings: u64,
}

impl Published {
    /// Adds one cell (a branch's ratings of the service type in one month).
    pub fn add_cell(&mut self, cell: &Satisfaction) {
        if cell.is_shown() {
            for (total, count) in self.shown.by_score.iter_mut().zip(cell.by_score) {
                *total += count;
            }
        } else {
            self.withheld_ratings += cell.ratings();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn only_whole_ended_months_are_published() {
        let today = day(2026, 12, 2);
        assert_eq!(published_months(None, today, today), Some((None, day(2026, 11, 30))));
        assert_eq!(
            published_months(Some(day(2026, 10, 17)), today, today),
            Some((Some(day(2026, 10, 1)), day(2026, 11, 30)))
        );
        // A range ending inside a month stops at the month before; at a month's last day, with it.
        assert_eq!(published_months(None, day(2026, 11, 29), today), Some((None, day(2026, 10, 31))));
        assert_eq!(published_months(None, day(2026, 10, 31), today), Some((None, day(2026, 10, 31))));
        // This month is never published, whatever the range.
        assert_eq!(published_months(Some(day(2026, 12, 1)), today, today), None);
        assert_eq!(published_months(Some(day(2026, 11, 5)), day(2026, 11, 20), today), None);
    }

    #[test]
    fn small_cells_count_nowhere() {
        let cell = |scores: &[u8]| {
            let mut cell = Satisfaction::default();
            scores.iter().for_each(|score| cell.add(*score, 1));
            cell
        };
        let mut published = Published::default();
        published.add_cell(&cell(&[5, 5, 4, 3, 1]));
        published.add_cell(&cell(&[1]));
        published.add_cell(&cell(&[2, 2, 2, 2, 2, 2]));
        assert_eq!(published.shown.by_score, [1, 6, 1, 1, 2]);
        assert_eq!(published.withheld_ratings, 1);
    }

    #[test]
    fn a_score_is_one_to_five_and_a_comment_is_bounded() {
        let rating = Rating::new(5, "  شكراً لكم  ").unwrap();
        assert_eq!((rating.score(), rating.comment()), (5, "شكراً لكم"));
        assert_eq!(Rating::new(1, "").unwrap().score(), 1);
        for bad in [0, 6, 256 + 3] {
            let errors = Rating::new(bad, "").unwrap_err();
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["score"], "{bad}");
        }
        let long = "م".repeat(MAX_COMMENT_CHARS + 1);
        let errors = Rating::new(0, &long).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["score", "comment"]);
        assert!(Rating::new(3, &"م".repeat(MAX_COMMENT_CHARS)).is_ok());
    }

    #[test]
    fn figures_of_a_service_type() {
        let mut figures = Satisfaction::default();
        assert_eq!((figures.ratings(), figures.average(), figures.satisfied_percent()), (0, None, None));
        figures.add(5, 2);
        figures.add(4, 1);
        figures.add(1, 1);
        figures.add(0, 7);
        figures.add(6, 7);
        assert_eq!(figures.by_score, [1, 0, 0, 1, 2]);
        assert_eq!(figures.ratings(), 4);
        assert_eq!(figures.average(), Some(15.0 / 4.0));
        assert_eq!(figures.satisfied_percent(), Some(75.0));
        assert!(!figures.is_shown() && figures.is_withheld(), "four ratings would point at people");
        figures.add(3, 1);
        assert!(figures.is_shown() && !figures.is_withheld());
        assert!(!Satisfaction::default().is_withheld(), "none is nothing to withhold");
    }
}
