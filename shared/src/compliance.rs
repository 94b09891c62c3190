//! Compliance (SPEC §5): how approved audits become a store's score, band,
//! gaps, trend and rank. Scores are integers in hundredths (8533 = 85.33).
//! Pure arithmetic, shared by every reader of the figures.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A store's standing in a quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// A counted audit had a critical failure, or the score is under the
    /// lowest threshold.
    NonCompliant,
    Below,
    Meets,
    Exceeds,
    /// No approved audit in the quarter.
    NotAudited,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::NonCompliant,
        Band::Below,
        Band::Meets,
        Band::Exceeds,
        Band::NotAudited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Band::NonCompliant => "non_compliant",
            Band::Below => "below",
            Band::Meets => "meets",
            Band::Exceeds => "exceeds",
            Band::NotAudited => "not_audited",
        }
    }
}

/// The organisation's compliance settings (hundredths; days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ComplianceSettings {
    /// The score every dimension aims at; gaps are measured from it.
    pub target: i64,
    /// Scores under this are `non_compliant`.
    pub below_from: i64,
    /// From here `meets`; under it `below`.
    pub meets_from: i64,
    /// From here `exceeds`.
    pub exceeds_from: i64,
    /// Days a corrective action has, from the approval that opened it.
    pub action_due_days: i64,
}

impl Default for ComplianceSettings {
    fn default() -> Self {
        ComplianceSettings {
            target: 8500,
            below_from: 7000,
            meets_from: 8500,
            exceeds_from: 9500,
            action_due_days: 14,
        }
    }
}

impl ComplianceSettings {
    /// What is wrong with these settings, field by field.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (field, v) in [
            ("target", self.target),
            ("below_from", self.below_from),
            ("meets_from", self.meets_from),
            ("exceeds_from", self.exceeds_from),
        ] {
            if !(0..=10_000).contains(&v) {
                out.push((
                    field,
                    "must be 0..=10000 (hundredths of a point)".to_owned(),
                ));
            }
        }
        if !(self.below_from <= self.meets_from && self.meets_from <= self.exceeds_from) {
            out.push((
                "meets_from",
                "thresholds must rise: below_from ≤ meets_from ≤ exceeds_from".to_owned(),
            ));
        }
        if !(1..=365).contains(&self.action_due_days) {
            out.push(("action_due_days", "must be 1..=365".to_owned()));
        }
        out
    }

    /// The band of a store with counted audits.
    pub fn band(&self, score: i64, critical: bool) -> Band {
        if critical || score < self.below_from {
            Band::NonCompliant
        } else if score < self.meets_from {
            Band::Below
        } else if score < self.exceeds_from {
            Band::Meets
        } else {
            Band::Exceeds
        }
    }
}

/// The mean of `count` values summing to `sum` (all ≥ 0), rounded half up.
pub fn mean(sum: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| (2 * sum + count).div_euclid(2 * count))
}

/// What a store's counted audits add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    pub audits: i64,
    pub total_sum: i64,
    pub critical: bool,
    /// Dimension code → (sum of the audits' non-null scores, how many).
    pub dimensions: Vec<(String, i64, i64)>,
}

/// One store's row, before ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreCompliance {
    pub store_id: Uuid,
    pub store_code: String,
    pub store_name: String,
    pub region_id: Uuid,
    pub region_code: String,
    pub region_name: String,
    /// Approved audits of the quarter.
    pub audits_counted: i64,
    /// Hundredths; null when not audited.
    pub score: Option<i64>,
    pub band: Band,
    /// A counted audit had a critical failure.
    pub critical: bool,
    /// Every dimension of the organisation, in order.
    pub dimensions: Vec<DimensionCompliance>,
    /// The previous quarter's score.
    pub previous_score: Option<i64>,
    /// Score less the previous quarter's; null without both.
    pub trend: Option<i64>,
    /// Within the region, highest score first; ties share a rank.
    pub rank: Option<i64>,
}

/// A store's (or region's) score in one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DimensionCompliance {
    pub code: String,
    /// Hundredths; null when no counted audit scored the dimension.
    pub score: Option<i64>,
    /// Target less the score (negative when above the target).
    pub gap: Option<i64>,
}

/// A store as compliance lists it.
pub struct StoreFacts<'a> {
    pub store_id: Uuid,
    pub store_code: &'a str,
    pub store_name: &'a str,
    pub region_id: Uuid,
    pub region_code: &'a str,
    pub region_name: &'a str,
}

impl ComplianceSettings {
    /// A store's row from its counted audits (`None`: not audited) and the
    /// previous quarter's score. `dimensions` lists every dimension code.
    pub fn store_row(
        &self,
        store: &StoreFacts<'_>,
        dimensions: &[String],
        counted: Option<&Counted>,
        previous_score: Option<i64>,
    ) -> StoreCompliance {
        let score = counted.and_then(|c| mean(c.total_sum, c.audits));
        let critical = counted.is_some_and(|c| c.critical);
        let band = match score {
            Some(s) => self.band(s, critical),
            None => Band::NotAudited,
        };
        let dimensions = dimensions
            .iter()
            .map(|code| {
                let score = counted
                    .and_then(|c| c.dimensions.iter().find(|(d, _, _)| d == code))
                    .and_then(|(_, sum, n)| mean(*sum, *n));
                DimensionCompliance {
                    code: code.clone(),
                    score,
                    gap: score.map(|s| self.target - s),
                }
            })
            .collect();
        StoreCompliance {
            store_id: store.store_id,
            store_code: store.store_code.to_owned(),
            store_name: store.store_name.to_owned(),
            region_id: store.region_id,
            region_code: store.region_code.to_owned(),
            region_name: store.region_name.to_owned(),
            audits_counted: counted.map_or(0, |c| c.audits),
            score,
            band,
            critical,
            dimensions,
            previous_score,
            trend: score.zip(previous_score).map(|(s, p)| s - p),
            rank: None,
        }
    }
}

/// Rank the stores of one region: highest score first, ties share a rank
/// (1, 2, 2, 4); stores without a score get none.
pub fn rank(rows: &mut [StoreCompliance]) {
    let mut scores: Vec<i64> = rows.iter().filter_map(|r| r.score).collect();
    scores.sort_unstable_by(|a, b| b.cmp(a));
    for r in rows.iter_mut() {
        r.rank = r.score.map(|s| {
            let higher = scores.partition_point(|x| *x > s);
            i64::try_from(higher).unwrap_or(i64::MAX) + 1
        });
    }
}

/// A region's roll-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionCompliance {
    pub region_id: Uuid,
    pub region_code: String,
    pub region_name: String,
    pub stores: i64,
    pub audited: i64,
    pub bands: BandCounts,
    /// Mean of the audited stores' scores; null when none.
    pub mean_score: Option<i64>,
    /// Per dimension: the mean of the stores' dimension scores, and its gap.
    pub dimensions: Vec<DimensionCompliance>,
}

/// Stores per band.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BandCounts {
    pub non_compliant: i64,
    pub below: i64,
    pub meets: i64,
    pub exceeds: i64,
    pub not_audited: i64,
}

impl BandCounts {
    pub fn add(&mut self, band: Band) {
        *match band {
            Band::NonCompliant => &mut self.non_compliant,
            Band::Below => &mut self.below,
            Band::Meets => &mut self.meets,
            Band::Exceeds => &mut self.exceeds,
            Band::NotAudited => &mut self.not_audited,
        } += 1;
    }
}

impl ComplianceSettings {
    /// A region's roll-up from its stores' rows.
    pub fn region_row(
        &self,
        region_id: Uuid,
        region_code: &str,
        region_name: &str,
        dimensions: &[String],
        stores: &[StoreCompliance],
    ) -> RegionCompliance {
        let mut bands = BandCounts::default();
        for s in stores {
            bands.add(s.band);
        }
        let scored: Vec<i64> = stores.iter().filter_map(|s| s.score).collect();
        let dims = dimensions
            .iter()
            .enumerate()
            .map(|(i, code)| {
                let v: Vec<i64> = stores
                    .iter()
                    .filter_map(|s| s.dimensions.get(i).and_then(|d| d.score))
                    .collect();
                let score = mean(v.iter().sum(), len(&v));
                DimensionCompliance {
                    code: code.clone(),
                    score,
                    gap: score.map(|s| self.target - s),
                }
            })
            .collect();
        RegionCompliance {
            region_id,
            region_code: region_code.to_owned(),
            region_name: region_name.to_owned(),
            stores: len(stores),
            audited: len(&scored),
            bands,
            mean_score: mean(scored.iter().sum(), len(&scored)),
            dimensions: dims,
        }
    }
}

fn len<T>(v: &[T]) -> i64 {
    i64::try_from(v.len()).unwrap_or(i64::MAX)
}

/// How often one standard failed across the counted audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemFailure {
    pub standard_code: String,
    pub text_en: String,
    pub text_zh: String,
    pub dimension: String,
    /// Counted audits that answered it (not N/A).
    pub assessed: i64,
    pub failed: i64,
    /// failed / assessed, 0..=1.
    pub failure_rate: f64,
}

/// Most-failed first (by rate, compared exactly), then most failures, then
/// by code.
pub fn sort_failures(items: &mut [ItemFailure]) {
    items.sort_by(|a, b| {
        let ra = i128::from(a.failed) * i128::from(b.assessed.max(1));
        let rb = i128::from(b.failed) * i128::from(a.assessed.max(1));
        rb.cmp(&ra)
            .then(b.failed.cmp(&a.failed))
            .then(a.standard_code.cmp(&b.standard_code))
    });
}

/// Hundredths as a decimal text: 8533 → "85.33", -150 → "-1.50".
pub fn points(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_rounds_half_up() {
        assert_eq!(mean(0, 0), None);
        assert_eq!(mean(8533, 1), Some(8533));
        // (8533 + 8534) / 2 = 8533.5 → 8534
        assert_eq!(mean(8533 + 8534, 2), Some(8534));
        // 3 audits: 100 + 100 + 101 = 301 / 3 = 100.33 → 100
        assert_eq!(mean(301, 3), Some(100));
        // 302 / 3 = 100.67 → 101
        assert_eq!(mean(302, 3), Some(101));
        // Exhaustively against a float reference for small sums.
        for count in 1..=12_i64 {
            for sum in 0..=2_000_i64 {
                let exact = sum as f64 / count as f64;
                let want = (exact + 0.5).floor() as i64;
                // Division is correctly rounded, so an exact half stays
                // one, and no other quotient comes near a half.
                assert_eq!(mean(sum, count), Some(want), "{sum}/{count}");
            }
        }
    }

    #[test]
    fn bands_at_every_threshold() {
        let s = ComplianceSettings::default();
        assert_eq!(s.band(6999, false), Band::NonCompliant);
        assert_eq!(s.band(7000, false), Band::Below);
        assert_eq!(s.band(8499, false), Band::Below);
        assert_eq!(s.band(8500, false), Band::Meets);
        assert_eq!(s.band(9499, false), Band::Meets);
        assert_eq!(s.band(9500, false), Band::Exceeds);
        assert_eq!(s.band(10_000, false), Band::Exceeds);
        assert_eq!(s.band(10_000, true), Band::NonCompliant);
        let strict = ComplianceSettings {
            below_from: 8000,
            meets_from: 9000,
            exceeds_from: 9900,
            ..s
        };
        assert_eq!(strict.band(7999, false), Band::NonCompliant);
        assert_eq!(strict.band(8999, false), Band::Below);
        assert_eq!(strict.band(9899, false), Band::Meets);
        assert_eq!(strict.band(9900, false), Band::Exceeds);
    }

    #[test]
    fn settings_are_checked() {
        assert!(ComplianceSettings::default().problems().is_empty());
        let bad = ComplianceSettings {
            meets_from: 6000,
            target: 10_001,
            action_due_days: 0,
            ..ComplianceSettings::default()
        };
        let fields: Vec<&str> = bad.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["target", "meets_from", "action_due_days"]);
    }

    fn row(score: Option<i64>) -> StoreCompliance {
        let facts = StoreFacts {
            store_id: Uuid::nil(),
            store_code: "S",
            store_name: "S",
            region_id: Uuid::nil(),
            region_code: "R",
            region_name: "R",
        };
        let counted = score.map(|s| Counted {
            audits: 1,
            total_sum: s,
            critical: false,
            dimensions: vec![("reliability".into(), s, 1)],
        });
        ComplianceSettings::default().store_row(
            &facts,
            &["reliability".into(), "empathy".into()],
            counted.as_ref(),
            None,
        )
    }

    #[test]
    fn ties_share_a_rank_and_the_unaudited_get_none() {
        let mut rows: Vec<_> = [Some(9000), Some(8000), None, Some(9000), Some(9500)]
            .into_iter()
            .map(row)
            .collect();
        rank(&mut rows);
        let ranks: Vec<Option<i64>> = rows.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [Some(2), Some(4), None, Some(2), Some(1)]);
    }

    #[test]
    fn store_rows_carry_gaps_trend_and_the_unaudited() {
        let facts = StoreFacts {
            store_id: Uuid::nil(),
            store_code: "S1",
            store_name: "One",
            region_id: Uuid::nil(),
            region_code: "R",
            region_name: "R",
        };
        let s = ComplianceSettings::default();
        let dims = ["reliability".to_owned(), "empathy".to_owned()];
        let counted = Counted {
            audits: 2,
            total_sum: 9000 + 8001,
            critical: false,
            dimensions: vec![("reliability".into(), 9000 + 9601, 2)],
        };
        let r = s.store_row(&facts, &dims, Some(&counted), Some(8000));
        assert_eq!(r.score, Some(8501));
        assert_eq!(r.band, Band::Meets);
        assert_eq!(r.trend, Some(501));
        assert_eq!(r.dimensions[0].score, Some(9301));
        assert_eq!(r.dimensions[0].gap, Some(-801));
        assert_eq!(r.dimensions[1].score, None);
        assert_eq!(r.dimensions[1].gap, None);
        let critical = Counted {
            critical: true,
            ..counted
        };
        assert_eq!(
            s.store_row(&facts, &dims, Some(&critical), None).band,
            Band::NonCompliant
        );
        let none = s.store_row(&facts, &dims, None, Some(8000));
        assert_eq!(none.band, Band::NotAudited);
        assert_eq!(
            (none.score, none.trend, none.audits_counted),
            (None, None, 0)
        );
    }

    #[test]
    fn region_roll_up() {
        let rows: Vec<_> = [Some(9000), Some(8001), None]
            .into_iter()
            .map(row)
            .collect();
        let s = ComplianceSettings::default();
        let r = s.region_row(
            Uuid::nil(),
            "R",
            "R",
            &["reliability".into(), "empathy".into()],
            &rows,
        );
        assert_eq!((r.stores, r.audited), (3, 2));
        assert_eq!(r.mean_score, Some(8501));
        assert_eq!(
            (r.bands.meets, r.bands.below, r.bands.not_audited),
            (1, 1, 1)
        );
        assert_eq!(r.dimensions[0].score, Some(8501));
        assert_eq!(r.dimensions[1].score, None);
    }

    #[test]
    fn failures_sorted_by_exact_rate() {
        let f = |code: &str, failed, assessed| ItemFailure {
            standard_code: code.into(),
            text_en: String::new(),
            text_zh: String::new(),
            dimension: String::new(),
            assessed,
            failed,
            failure_rate: 0.0,
        };
        let mut v = vec![
            f("A", 1, 3),
            f("B", 2, 6),
            f("C", 1, 2),
            f("D", 0, 0),
            f("E", 3, 9),
        ];
        sort_failures(&mut v);
        let codes: Vec<&str> = v.iter().map(|i| i.standard_code.as_str()).collect();
        // 1/2, then 3/9 = 2/6 = 1/3 by failures then code, then 0.
        assert_eq!(codes, ["C", "E", "B", "A", "D"]);
    }

    #[test]
    fn points_text() {
        assert_eq!(points(8533), "85.33");
        assert_eq!(points(10_000), "100.00");
        assert_eq!(points(5), "0.05");
        assert_eq!(points(-150), "-1.50");
        assert_eq!(points(0), "0.00");
    }
}
