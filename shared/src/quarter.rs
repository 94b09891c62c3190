//! Quarters, written `YYYY-Qn`.

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    /// 1..=4
    pub q: u8,
}

impl Quarter {
    pub fn parse(s: &str) -> Result<Quarter, String> {
        let bad = || format!("{s:?} is not a quarter; write YYYY-Qn, for example 2026-Q4");
        let (y, q) = s.trim().split_once("-Q").ok_or_else(bad)?;
        if y.len() != 4 || q.len() != 1 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let q: u8 = q.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) || !(1..=4).contains(&q) {
            return Err(bad());
        }
        Ok(Quarter { year, q })
    }

    pub fn containing(date: NaiveDate) -> Quarter {
        Quarter {
            year: date.year(),
            q: u8::try_from(date.month0() / 3 + 1).unwrap_or(1),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        let month = u32::from(self.q - 1) * 3 + 1;
        NaiveDate::from_ymd_opt(self.year, month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn next(self) -> Quarter {
        if self.q == 4 {
            Quarter {
                year: self.year + 1,
                q: 1,
            }
        } else {
            Quarter {
                year: self.year,
                q: self.q + 1,
            }
        }
    }

    pub fn previous(self) -> Quarter {
        if self.q == 1 {
            Quarter {
                year: self.year - 1,
                q: 4,
            }
        } else {
            Quarter {
                year: self.year,
                q: self.q - 1,
            }
        }
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        Quarter::containing(date) == self
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-Q{}", self.year, self.q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn parses_and_prints() {
        let q = Quarter::parse("2026-Q4").expect("valid");
        assert_eq!(q, Quarter { year: 2026, q: 4 });
        assert_eq!(q.to_string(), "2026-Q4");
        for bad in [
            "2026-Q5", "2026-Q0", "2026Q4", "26-Q4", "2026-q4", "", "2026-Q44", "abcd-Q1",
        ] {
            assert!(Quarter::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn bounds() {
        let q = Quarter::parse("2026-Q4").expect("valid");
        assert_eq!(q.first_day(), d(2026, 10, 1));
        assert_eq!(q.last_day(), d(2026, 12, 31));
        assert_eq!(
            Quarter::parse("2028-Q1").expect("valid").last_day(),
            d(2028, 3, 31)
        );
        assert_eq!(Quarter::containing(d(2026, 6, 30)).to_string(), "2026-Q2");
        assert_eq!(Quarter::containing(d(2026, 7, 1)).to_string(), "2026-Q3");
        assert_eq!(q.next().to_string(), "2027-Q1");
        assert_eq!(Quarter::parse("2027-Q1").expect("valid").previous(), q);
        assert!(q.contains(d(2026, 11, 23)));
        assert!(!q.contains(d(2027, 1, 1)));
    }
}
