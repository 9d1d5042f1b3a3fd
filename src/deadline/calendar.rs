//! The calendar arithmetic behind deadline expressions, in civil dates.
//!
//! Owns: adding amounts of time to an anchor the way a desk counts them
//! (jiff clamps "Jan 31 + 1 month" to Feb 28/29), what the weeks, months,
//! quarters, halves and years around an anchor are, and which occurrence of
//! a named month or quarter an expression without a year means. Every
//! operation is checked: an amount too large for the calendar is a
//! [`Problem`], never a panic. Does not own any words of any language.

use jiff::Span;
use jiff::civil::Date;

/// Why an expression that has a recognised shape still has no dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The amount or the year is beyond the calendar jiff supports.
    OutOfRange,
    /// A day that does not exist, such as 31 November or 29 February 2025.
    NoSuchDate,
    /// 29 February without a year, said where the coming one has none: the
    /// next is years away, and no promise means that.
    LeapDayWithoutYear,
}

impl Problem {
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Problem::OutOfRange => "the date it means is out of range",
            Problem::NoSuchDate => "that day does not exist in the calendar",
            Problem::LeapDayWithoutYear => {
                "the coming February has no 29th; give the year, e.g. \"by 29 February 2028\", or the day meant"
            }
        }
    }
}

pub(crate) type Calc<T> = Result<T, Problem>;

/// A unit of a relative deadline ("within two *months*").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Rounded up to whole days: a deadline is a civil date.
    Hour,
    Day,
    Week,
    Fortnight,
    Month,
    Quarter,
    Year,
}

/// `anchor` plus `amount` units: the latest day of "within N units".
pub(crate) fn add(anchor: Date, amount: u64, unit: Unit) -> Calc<Date> {
    let n = i64::try_from(amount).map_err(|_| Problem::OutOfRange)?;
    let times = |k: i64| n.checked_mul(k).ok_or(Problem::OutOfRange);
    let span = match unit {
        Unit::Hour => Span::new().try_days(n / 24 + i64::from(n % 24 != 0)),
        Unit::Day => Span::new().try_days(n),
        Unit::Week => Span::new().try_weeks(n),
        Unit::Fortnight => Span::new().try_weeks(times(2)?),
        Unit::Month => Span::new().try_months(n),
        Unit::Quarter => Span::new().try_months(times(3)?),
        Unit::Year => Span::new().try_years(n),
    }
    .map_err(|_| Problem::OutOfRange)?;
    anchor.checked_add(span).map_err(|_| Problem::OutOfRange)
}

pub(crate) fn add_days(date: Date, days: i64) -> Calc<Date> {
    let span = Span::new()
        .try_days(days)
        .map_err(|_| Problem::OutOfRange)?;
    date.checked_add(span).map_err(|_| Problem::OutOfRange)
}

/// Which year a named month, quarter or half belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YearRef {
    /// Stated: "November 2025", "Q2 2026".
    Given(i64),
    /// The anchor's year: "this November", "نوفمبر الجاري", "of this year".
    This,
    /// The year after the anchor's: "of next year", "من العام المقبل".
    Next,
    /// The first occurrence that has not yet passed, judged by the day the
    /// expression points at: "by the end of the first quarter".
    Upcoming,
    /// The first occurrence after the one the anchor is in: "next November",
    /// "نوفمبر المقبل".
    AfterCurrent,
}

/// A stretch of calendar an expression points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    /// The anchor's own day: "by the end of the day".
    Day,
    /// ISO week (Monday to Sunday) containing the anchor, plus `0` or `1`.
    Week(i64),
    /// Month containing the anchor, plus `0` or `1`.
    Month(i64),
    /// Quarter containing the anchor, plus `0` or `1`.
    Quarter(i64),
    Year(YearRef),
    /// January = 1.
    NamedMonth(i8, YearRef),
    /// Q1 = 1.
    NamedQuarter(i8, YearRef),
    /// H1 = 1.
    Half(i8, YearRef),
}

/// The day of a period that decides whether an occurrence "has passed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pivot {
    /// Its first day: "before November".
    Start,
    /// Its 15th: "by mid-November".
    Mid,
    /// Its last day: "by the end of November", "in November".
    End,
}

fn date(year: i64, month: i64, day: i8) -> Calc<Date> {
    let year = i16::try_from(year).map_err(|_| Problem::OutOfRange)?;
    let month = i8::try_from(month).map_err(|_| Problem::OutOfRange)?;
    Date::new(year, month, day).map_err(|_| Problem::OutOfRange)
}

/// First and last month (1-based) of a named period kind within a year.
fn months_of(kind: Named) -> (i64, i64) {
    match kind {
        Named::Month(m) => (i64::from(m), i64::from(m)),
        Named::Quarter(q) => (i64::from(q) * 3 - 2, i64::from(q) * 3),
        Named::Half(h) => (i64::from(h) * 6 - 5, i64::from(h) * 6),
    }
}

#[derive(Debug, Clone, Copy)]
enum Named {
    Month(i8),
    Quarter(i8),
    Half(i8),
}

fn named_bounds(kind: Named, year: i64) -> Calc<(Date, Date)> {
    let (first, last) = months_of(kind);
    let start = date(year, first, 1)?;
    let end = date(year, last, 1)?.last_of_month();
    Ok((start, end))
}

fn pivot_day(bounds: (Date, Date), pivot: Pivot) -> Calc<Date> {
    match pivot {
        Pivot::Start => Ok(bounds.0),
        Pivot::Mid => date(i64::from(bounds.0.year()), i64::from(bounds.0.month()), 15),
        Pivot::End => Ok(bounds.1),
    }
}

impl Period {
    /// First and last day of the period meant, counted from `anchor`.
    pub(crate) fn bounds(self, anchor: Date, pivot: Pivot) -> Calc<(Date, Date)> {
        let year = i64::from(anchor.year());
        match self {
            Period::Day => Ok((anchor, anchor)),
            Period::Week(shift) => {
                let back = i64::from(anchor.weekday().to_monday_zero_offset());
                let monday = add_days(
                    anchor,
                    shift.checked_mul(7).ok_or(Problem::OutOfRange)? - back,
                )?;
                Ok((monday, add_days(monday, 6)?))
            }
            Period::Month(shift) => {
                let start = add(anchor.first_of_month(), shift.unsigned_abs(), Unit::Month)?;
                Ok((start, start.last_of_month()))
            }
            Period::Quarter(shift) => {
                let q = (i64::from(anchor.month()) - 1) / 3;
                let first = date(year, q * 3 + 1, 1)?;
                let start = add(first, shift.unsigned_abs(), Unit::Quarter)?;
                let end = add(start, 2, Unit::Month)?.last_of_month();
                Ok((start, end))
            }
            Period::Year(which) => {
                let y = match which {
                    YearRef::Given(y) => y,
                    YearRef::This | YearRef::Upcoming => year,
                    YearRef::Next | YearRef::AfterCurrent => year + 1,
                };
                Ok((date(y, 1, 1)?, date(y, 12, 31)?))
            }
            Period::NamedMonth(m, which) => named(Named::Month(m), which, anchor, pivot),
            Period::NamedQuarter(q, which) => named(Named::Quarter(q), which, anchor, pivot),
            Period::Half(h, which) => named(Named::Half(h), which, anchor, pivot),
        }
    }
}

fn named(kind: Named, which: YearRef, anchor: Date, pivot: Pivot) -> Calc<(Date, Date)> {
    let year = i64::from(anchor.year());
    match which {
        YearRef::Given(y) => named_bounds(kind, y),
        YearRef::This => named_bounds(kind, year),
        YearRef::Next => named_bounds(kind, year + 1),
        YearRef::Upcoming => {
            let this = named_bounds(kind, year)?;
            if pivot_day(this, pivot)? >= anchor {
                Ok(this)
            } else {
                named_bounds(kind, year + 1)
            }
        }
        YearRef::AfterCurrent => {
            let this = named_bounds(kind, year)?;
            if this.0 > anchor {
                Ok(this)
            } else {
                named_bounds(kind, year + 1)
            }
        }
    }
}

/// A calendar day as an expression states it, perhaps without its year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DaySpec {
    pub(crate) day: u64,
    pub(crate) month: i8,
    pub(crate) year: YearRef,
}

impl DaySpec {
    /// The day meant; without a year, the next such day on or after the
    /// anchor, within a year of it.
    pub(crate) fn resolve(self, anchor: Date) -> Calc<Date> {
        let day = i8::try_from(self.day).map_err(|_| Problem::NoSuchDate)?;
        let on = |y: i64| -> Calc<Date> {
            let y = i16::try_from(y).map_err(|_| Problem::OutOfRange)?;
            Date::new(y, self.month, day).map_err(|_| Problem::NoSuchDate)
        };
        let year = i64::from(anchor.year());
        match self.year {
            YearRef::Given(y) => {
                if !(1..=9999).contains(&y) {
                    return Err(Problem::OutOfRange);
                }
                on(y)
            }
            YearRef::This => on(year),
            YearRef::Next => on(year + 1),
            YearRef::AfterCurrent => {
                let y = if self.month > anchor.month() {
                    year
                } else {
                    year + 1
                };
                on(y)
            }
            YearRef::Upcoming => {
                let mut missing = Problem::NoSuchDate;
                // This year's day or next year's; past that, only a 29
                // February is looked for, to say why it is refused.
                if self.month == 2 && day == 29 {
                    for y in year..=year + 1 {
                        if let Ok(d) = on(y)
                            && d >= anchor
                        {
                            return Ok(d);
                        }
                    }
                    return Err(Problem::LeapDayWithoutYear);
                }
                for y in year..=year + 8 {
                    match on(y) {
                        Ok(d) if d >= anchor => return Ok(d),
                        Ok(_) => {}
                        Err(e) => missing = e,
                    }
                }
                Err(missing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(add(d(2025, 1, 31), 1, Unit::Month), Ok(d(2025, 2, 28)));
        assert_eq!(add(d(2024, 1, 31), 1, Unit::Month), Ok(d(2024, 2, 29)));
        assert_eq!(add(d(2024, 2, 29), 1, Unit::Year), Ok(d(2025, 2, 28)));
    }

    #[test]
    fn hours_round_up_to_whole_days() {
        assert_eq!(add(d(2025, 10, 15), 72, Unit::Hour), Ok(d(2025, 10, 18)));
        assert_eq!(add(d(2025, 10, 15), 73, Unit::Hour), Ok(d(2025, 10, 19)));
        assert_eq!(add(d(2025, 10, 15), 1, Unit::Hour), Ok(d(2025, 10, 16)));
    }

    #[test]
    fn huge_amounts_are_out_of_range_not_panics() {
        for unit in [
            Unit::Hour,
            Unit::Day,
            Unit::Week,
            Unit::Fortnight,
            Unit::Month,
            Unit::Quarter,
            Unit::Year,
        ] {
            assert_eq!(add(d(2025, 1, 1), u64::MAX, unit), Err(Problem::OutOfRange));
            assert_eq!(add(d(2025, 1, 1), 1 << 40, unit), Err(Problem::OutOfRange));
        }
        assert_eq!(
            add(d(9999, 12, 1), 1, Unit::Month),
            Err(Problem::OutOfRange)
        );
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        // 2025-10-15 is a Wednesday.
        let b = Period::Week(0).bounds(d(2025, 10, 15), Pivot::End);
        assert_eq!(b, Ok((d(2025, 10, 13), d(2025, 10, 19))));
        let b = Period::Week(1).bounds(d(2025, 10, 19), Pivot::End);
        assert_eq!(b, Ok((d(2025, 10, 20), d(2025, 10, 26))));
    }

    #[test]
    fn upcoming_quarter_skips_one_already_passed() {
        let q1 = Period::NamedQuarter(1, YearRef::Upcoming);
        assert_eq!(
            q1.bounds(d(2025, 10, 15), Pivot::End),
            Ok((d(2026, 1, 1), d(2026, 3, 31)))
        );
        assert_eq!(
            q1.bounds(d(2025, 3, 31), Pivot::End),
            Ok((d(2025, 1, 1), d(2025, 3, 31)))
        );
    }

    #[test]
    fn upcoming_mid_month_looks_at_the_fifteenth() {
        let nov = Period::NamedMonth(11, YearRef::Upcoming);
        assert_eq!(
            nov.bounds(d(2025, 11, 15), Pivot::Mid).unwrap().0,
            d(2025, 11, 1)
        );
        assert_eq!(
            nov.bounds(d(2025, 11, 16), Pivot::Mid).unwrap().0,
            d(2026, 11, 1)
        );
    }

    #[test]
    fn a_29th_february_without_a_year_is_the_coming_one_or_refused() {
        let spec = DaySpec {
            day: 29,
            month: 2,
            year: YearRef::Upcoming,
        };
        assert_eq!(spec.resolve(d(2027, 3, 1)), Ok(d(2028, 2, 29)));
        assert_eq!(spec.resolve(d(2028, 2, 29)), Ok(d(2028, 2, 29)));
        // The coming February (2026) has none; the next is three years on.
        assert_eq!(
            spec.resolve(d(2025, 3, 1)),
            Err(Problem::LeapDayWithoutYear)
        );
    }

    #[test]
    fn impossible_days_are_reported() {
        let spec = DaySpec {
            day: 31,
            month: 11,
            year: YearRef::Given(2025),
        };
        assert_eq!(spec.resolve(d(2025, 3, 1)), Err(Problem::NoSuchDate));
        let spec = DaySpec {
            day: 300,
            month: 11,
            year: YearRef::Upcoming,
        };
        assert_eq!(spec.resolve(d(2025, 3, 1)), Err(Problem::NoSuchDate));
    }
}
