//! The scoring engine of SPEC §4, in exact integer arithmetic.
//!
//! Every fraction an answer can earn has a denominator of 1, 2..=10 (scale
//! maxima) or 100 (choice scores), so all of them are whole multiples of
//! 1/[`L`]. Sums are kept in those units and divided once, at the end, with
//! one rounding, half up, to hundredths.

use uuid::Uuid;

use crate::catalog::{Compare, Factor, ItemKind, VersionItem, VersionSection};

/// lcm(1..=10) · 100: a common denominator of every fraction an answer earns.
const L: i128 = 2520 * 100;

/// One item's answer, already checked against the item's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    NotApplicable,
    YesNo(bool),
    Scale(u32),
    Measure(f64),
    /// The chosen option's code.
    Choice(String),
    Count(u32),
}

/// The scores of one audit, in hundredths (8533 = 85.33).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    pub total: i64,
    pub base: i64,
    pub bonus: i64,
    /// Points deducted, in hundredths.
    pub deductions: i64,
    pub critical_failure: bool,
    /// By section code, in checklist order; `None` when no scored item.
    pub sections: Vec<(String, Option<i64>)>,
    /// By dimension code, in checklist order; `None` when no scored item.
    pub dimensions: Vec<(String, Option<i64>)>,
    /// Items that failed (never N/A ones), in checklist order.
    pub failed_items: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreError {
    /// No basic or performance item was answered: there is nothing to score.
    NothingScored,
    /// An answer does not fit its item (wrong kind, out of range, unknown
    /// option, N/A where not allowed); the engine needs checked answers.
    BadAnswer { item: Uuid, reason: String },
}

impl std::fmt::Display for ScoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScoreError::NothingScored => f.write_str(
                "no basic or performance item is answered: an audit needs at least one scored answer",
            ),
            ScoreError::BadAnswer { item, reason } => write!(f, "item {item}: {reason}"),
        }
    }
}

/// The fraction of its weight an answer earns, in units of 1/L; `None` for
/// N/A and for count items.
fn earned(item: &VersionItem, r: &Response) -> Result<Option<i128>, ScoreError> {
    let bad = |reason: &str| ScoreError::BadAnswer {
        item: item.id,
        reason: reason.to_owned(),
    };
    match (item.kind, r) {
        (_, Response::NotApplicable) if item.allow_na && item.kind != ItemKind::Count => Ok(None),
        (_, Response::NotApplicable) => Err(bad("N/A is not allowed")),
        (ItemKind::YesNo, Response::YesNo(v)) => Ok(Some(if *v { L } else { 0 })),
        (ItemKind::Scale, Response::Scale(v)) => {
            let max = item
                .max
                .filter(|m| *m > 0)
                .ok_or_else(|| bad("scale item without max"))?;
            if *v > max {
                return Err(bad("above the scale's maximum"));
            }
            Ok(Some(L * i128::from(*v) / i128::from(max)))
        }
        (ItemKind::Measure, Response::Measure(v)) => {
            let target = item
                .target
                .ok_or_else(|| bad("measure item without target"))?;
            if !v.is_finite() {
                return Err(bad("not a finite number"));
            }
            let met = match item.compare {
                Some(Compare::AtMost) => *v <= target,
                Some(Compare::AtLeast) => *v >= target,
                None => return Err(bad("measure item without compare")),
            };
            Ok(Some(if met { L } else { 0 }))
        }
        (ItemKind::Choice, Response::Choice(code)) => {
            let option = item
                .options
                .iter()
                .flatten()
                .find(|o| &o.code == code)
                .ok_or_else(|| bad("no such option"))?;
            if !(0..=100).contains(&option.score) {
                return Err(bad("option score out of range"));
            }
            Ok(Some(L * i128::from(option.score) / 100))
        }
        (ItemKind::Count, Response::Count(_)) => Ok(None),
        _ => Err(bad("the answer is not of the item's kind")),
    }
}

/// `100 · num / (L · den)` in hundredths, rounded half up (num ≥ 0, den > 0).
fn hundredths(num: i128, den: i128) -> i64 {
    let (p, q) = (num * 100 * 100, L * den);
    i64::try_from((2 * p + q) / (2 * q)).unwrap_or(i64::MAX)
}

/// Whether an answer is a failure of its item (SPEC §4); N/A never is.
fn failed(item: &VersionItem, r: &Response, f: Option<i128>) -> bool {
    match (item.kind, r) {
        (ItemKind::Count, Response::Count(n)) => *n > 0,
        (ItemKind::YesNo | ItemKind::Measure, _) => f.is_some_and(|f| f < L),
        (ItemKind::Scale | ItemKind::Choice, _) => f.is_some_and(|f| 2 * f < L),
        _ => false,
    }
}

#[derive(Default, Clone, Copy)]
struct Sum {
    earned: i128,
    weight: i128,
}

fn sub_score(s: &Sum) -> Option<i64> {
    (s.weight > 0).then(|| hundredths(s.earned, s.weight))
}

/// Score an audit of `sections` with `answer` giving each item's response.
pub fn score(
    sections: &[VersionSection],
    answer: &dyn Fn(&VersionItem) -> Response,
) -> Result<Score, ScoreError> {
    let mut required = Sum::default();
    let mut bonus: i128 = 0;
    let mut deductions: i128 = 0;
    let mut critical = false;
    let mut failed_items = Vec::new();
    let mut section_sums = Vec::with_capacity(sections.len());
    // Every dimension a scorable item uses, in checklist order.
    let mut dimension_sums: Vec<(String, Sum)> = Vec::new();
    for item in sections.iter().flat_map(|s| s.items.iter()) {
        if item.kind != ItemKind::Count && !dimension_sums.iter().any(|(c, _)| *c == item.dimension)
        {
            dimension_sums.push((item.dimension.clone(), Sum::default()));
        }
    }
    for section in sections {
        let mut ssum = Sum::default();
        for item in &section.items {
            let r = answer(item);
            let f = earned(item, &r)?;
            if failed(item, &r, f) {
                failed_items.push(item.id);
            }
            if let (ItemKind::Count, Response::Count(n)) = (item.kind, &r) {
                let points = i128::from(*n) * i128::from(item.points_each.unwrap_or(0));
                deductions += points.min(i128::from(item.max_points.unwrap_or(0)));
                continue;
            }
            let Some(f) = f else { continue };
            let w = i128::from(item.weight);
            match item.factor {
                Factor::Motivation => bonus += w * f,
                Factor::Basic | Factor::Performance => {
                    if item.factor == Factor::Basic && f < L {
                        critical = true;
                    }
                    required.earned += w * f;
                    required.weight += w;
                    ssum.earned += w * f;
                    ssum.weight += w;
                    if let Some((_, d)) = dimension_sums
                        .iter_mut()
                        .find(|(c, _)| *c == item.dimension)
                    {
                        d.earned += w * f;
                        d.weight += w;
                    }
                }
            }
        }
        section_sums.push((section.code.clone(), ssum));
    }
    if required.weight == 0 {
        return Err(ScoreError::NothingScored);
    }
    // Work in units of 1/(L·W) of a point: base + bonus, capped at 100,
    // less the deductions, clamped to 0..=100, then rounded once.
    let unit = L * required.weight;
    let earned_points = 100 * (required.earned + bonus);
    let capped = earned_points.min(100 * unit);
    let total = (capped - deductions * unit).clamp(0, 100 * unit);
    Ok(Score {
        total: hundredths(total, required.weight * 100),
        base: hundredths(required.earned, required.weight),
        bonus: hundredths(bonus, required.weight),
        deductions: i64::try_from(deductions * 100).unwrap_or(i64::MAX),
        critical_failure: critical,
        sections: section_sums
            .iter()
            .map(|(c, s)| (c.clone(), sub_score(s)))
            .collect(),
        dimensions: dimension_sums
            .iter()
            .map(|(c, s)| (c.clone(), sub_score(s)))
            .collect(),
        failed_items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ChoiceOption, PhotoRule};

    fn item(n: u128, kind: ItemKind, factor: Factor, weight: u32) -> VersionItem {
        VersionItem {
            id: Uuid::from_u128(n),
            code: format!("I{n}"),
            standard_id: Uuid::from_u128(1000 + n),
            standard_code: format!("S{n}"),
            dimension: "reliability".into(),
            kind,
            weight,
            factor,
            allow_na: true,
            photo: PhotoRule::None,
            min_photos: 0,
            text_zh: String::new(),
            text_en: String::new(),
            guidance_zh: String::new(),
            guidance_en: String::new(),
            max: (kind == ItemKind::Scale).then_some(4),
            target: (kind == ItemKind::Measure).then_some(180.0),
            compare: (kind == ItemKind::Measure).then_some(Compare::AtMost),
            unit: None,
            options: (kind == ItemKind::Choice).then(|| {
                [("best", 100), ("half", 50), ("under", 49), ("none", 0)]
                    .iter()
                    .map(|(c, s)| ChoiceOption {
                        code: (*c).into(),
                        label_zh: String::new(),
                        label_en: String::new(),
                        score: *s,
                    })
                    .collect()
            }),
            points_each: (kind == ItemKind::Count).then_some(5),
            max_points: (kind == ItemKind::Count).then_some(10),
        }
    }

    fn yes(n: u128, factor: Factor, w: u32) -> VersionItem {
        item(n, ItemKind::YesNo, factor, w)
    }

    fn one_section(items: Vec<VersionItem>) -> Vec<VersionSection> {
        vec![VersionSection {
            code: "s".into(),
            title_zh: String::new(),
            title_en: String::new(),
            items,
        }]
    }

    /// Score with answers given by item number.
    fn run(sections: &[VersionSection], answers: &[(u128, Response)]) -> Result<Score, ScoreError> {
        let map: std::collections::HashMap<Uuid, Response> = answers
            .iter()
            .map(|(n, r)| (Uuid::from_u128(*n), r.clone()))
            .collect();
        score(sections, &|i| {
            map.get(&i.id).cloned().unwrap_or(Response::NotApplicable)
        })
    }

    use Factor::*;
    use Response::*;

    #[test]
    fn all_passed_is_100() {
        let s = one_section(vec![yes(1, Basic, 10), yes(2, Performance, 30)]);
        let r = run(&s, &[(1, YesNo(true)), (2, YesNo(true))]).expect("scored");
        assert_eq!(
            (r.total, r.base, r.bonus, r.deductions, r.critical_failure),
            (10000, 10000, 0, 0, false)
        );
        assert!(r.failed_items.is_empty());
    }

    #[test]
    fn a_failed_basic_item_is_a_critical_failure() {
        let s = one_section(vec![yes(1, Basic, 10), yes(2, Performance, 30)]);
        let r = run(&s, &[(1, YesNo(false)), (2, YesNo(true))]).expect("scored");
        assert_eq!(r.total, 7500);
        assert!(r.critical_failure);
        assert_eq!(r.failed_items, [Uuid::from_u128(1)]);
        // A failed performance item is not critical.
        let r = run(&s, &[(1, YesNo(true)), (2, YesNo(false))]).expect("scored");
        assert_eq!(r.total, 2500);
        assert!(!r.critical_failure);
    }

    #[test]
    fn na_everywhere_but_one_item() {
        let s = one_section(vec![
            yes(1, Basic, 10),
            yes(2, Performance, 30),
            item(3, ItemKind::Scale, Performance, 20),
        ]);
        let r = run(&s, &[(3, Scale(3))]).expect("scored");
        assert_eq!(r.total, 7500, "only the answered item counts");
        assert!(r.failed_items.is_empty(), "N/A is never failed");
    }

    #[test]
    fn nothing_scored_cannot_be_submitted() {
        let s = one_section(vec![
            yes(1, Basic, 10),
            yes(2, Motivation, 10),
            item(3, ItemKind::Count, Performance, 1),
        ]);
        assert_eq!(
            run(&s, &[(3, Count(0))]),
            Err(ScoreError::NothingScored),
            "all N/A"
        );
        assert_eq!(
            run(&s, &[(2, YesNo(true)), (3, Count(0))]),
            Err(ScoreError::NothingScored),
            "bonus and deductions only"
        );
    }

    #[test]
    fn bonus_lifts_but_never_past_100() {
        let s = one_section(vec![
            yes(1, Performance, 10),
            yes(2, Performance, 10),
            yes(3, Motivation, 4),
        ]);
        let r = run(&s, &[(1, YesNo(true)), (2, YesNo(false)), (3, YesNo(true))]).expect("scored");
        assert_eq!((r.base, r.bonus, r.total), (5000, 2000, 7000));
        let r = run(&s, &[(1, YesNo(true)), (2, YesNo(true)), (3, YesNo(true))]).expect("scored");
        assert_eq!(
            (r.base, r.bonus, r.total),
            (10000, 2000, 10000),
            "all bonus: capped at 100"
        );
    }

    #[test]
    fn deductions_are_capped_per_item_and_clamp_at_zero() {
        let s = one_section(vec![
            yes(1, Performance, 10),
            item(2, ItemKind::Count, Performance, 1),
            item(3, ItemKind::Count, Motivation, 1),
        ]);
        let r = run(&s, &[(1, YesNo(true)), (2, Count(1)), (3, Count(0))]).expect("scored");
        assert_eq!((r.total, r.deductions), (9500, 500));
        assert_eq!(r.failed_items, [Uuid::from_u128(2)]);
        let r = run(
            &s,
            &[(1, YesNo(true)), (2, Count(3)), (3, Count(1_000_000))],
        )
        .expect("scored");
        assert_eq!(
            (r.total, r.deductions),
            (8000, 2000),
            "each count item deducts at most max_points"
        );
        let mut many = vec![yes(1, Performance, 10)];
        let mut answers = vec![(1, YesNo(false))];
        for n in 2..30 {
            many.push(item(n, ItemKind::Count, Performance, 1));
            answers.push((n, Count(2)));
        }
        let r = run(&one_section(many), &answers).expect("scored");
        assert_eq!(r.total, 0, "deductions past 100 clamp at 0");
    }

    #[test]
    fn counts_are_never_in_the_denominator() {
        let s = one_section(vec![
            yes(1, Performance, 10),
            item(2, ItemKind::Count, Performance, 100),
        ]);
        let r = run(&s, &[(1, YesNo(true)), (2, Count(0))]).expect("scored");
        assert_eq!(r.total, 10000);
    }

    #[test]
    fn scale_fractions_and_one_rounding_at_the_end() {
        let mut third = item(1, ItemKind::Scale, Performance, 1);
        third.max = Some(3);
        let s = one_section(vec![third.clone()]);
        assert_eq!(run(&s, &[(1, Scale(1))]).expect("scored").total, 3333);
        assert_eq!(run(&s, &[(1, Scale(2))]).expect("scored").total, 6667);
        // Base 33.333… and bonus 33.333…: rounded once, 66.67 (not 33.33 + 33.33).
        let mut bonus = item(2, ItemKind::Scale, Motivation, 1);
        bonus.max = Some(3);
        let s = one_section(vec![third, bonus]);
        let r = run(&s, &[(1, Scale(1)), (2, Scale(1))]).expect("scored");
        assert_eq!((r.base, r.bonus, r.total), (3333, 3333, 6667));
    }

    #[test]
    fn thirds_add_up_exactly() {
        let mut items = Vec::new();
        let mut answers = Vec::new();
        for n in 1..=3 {
            let mut s = item(n, ItemKind::Scale, Performance, 1);
            s.max = Some(3);
            items.push(s);
            answers.push((n, Scale(1)));
        }
        items.push(yes(4, Performance, 3));
        answers.push((4, YesNo(true)));
        // (1/3 + 1/3 + 1/3 + 3) / 6 = 4/6 exactly.
        assert_eq!(
            run(&one_section(items), &answers).expect("scored").total,
            6667
        );
    }

    #[test]
    fn rounds_half_up() {
        let mut items = vec![yes(1, Performance, 1)];
        items.push(yes(2, Performance, 31));
        let s = one_section(items);
        // 1/32 = 3.125 → 3.13
        assert_eq!(
            run(&s, &[(1, YesNo(true)), (2, YesNo(false))])
                .expect("scored")
                .total,
            313
        );
        // 31/32 = 96.875 → 96.88
        assert_eq!(
            run(&s, &[(1, YesNo(false)), (2, YesNo(true))])
                .expect("scored")
                .total,
            9688
        );
        let s = one_section(vec![yes(1, Performance, 1), yes(2, Performance, 2)]);
        // 1/3 = 33.333… → 33.33; 2/3 → 66.67
        assert_eq!(
            run(&s, &[(1, YesNo(true)), (2, YesNo(false))])
                .expect("scored")
                .total,
            3333
        );
        assert_eq!(
            run(&s, &[(1, YesNo(false)), (2, YesNo(true))])
                .expect("scored")
                .total,
            6667
        );
    }

    #[test]
    fn measures_meet_their_target_inclusively() {
        let mut least = item(2, ItemKind::Measure, Performance, 10);
        least.compare = Some(Compare::AtLeast);
        least.target = Some(90.0);
        let s = one_section(vec![item(1, ItemKind::Measure, Basic, 10), least]);
        let r = run(&s, &[(1, Measure(180.0)), (2, Measure(90.0))]).expect("scored");
        assert_eq!((r.total, r.critical_failure), (10000, false));
        let r = run(&s, &[(1, Measure(180.5)), (2, Measure(89.9))]).expect("scored");
        assert_eq!((r.total, r.critical_failure), (0, true));
        assert_eq!(r.failed_items.len(), 2);
    }

    #[test]
    fn failure_thresholds_of_scales_and_choices() {
        let s = one_section(vec![
            item(1, ItemKind::Scale, Performance, 10),
            item(2, ItemKind::Choice, Performance, 10),
        ]);
        let r = run(&s, &[(1, Scale(2)), (2, Choice("half".into()))]).expect("scored");
        assert!(r.failed_items.is_empty(), "exactly half is not a failure");
        assert_eq!(r.total, 5000);
        let r = run(&s, &[(1, Scale(1)), (2, Choice("under".into()))]).expect("scored");
        assert_eq!(r.failed_items.len(), 2);
        // 10·1/4 + 10·49/100 = 2.5 + 4.9 = 7.4 of 20 → 37.00
        assert_eq!(r.total, 3700);
    }

    #[test]
    fn section_and_dimension_scores() {
        let mut a = yes(1, Performance, 10);
        a.dimension = "empathy".into();
        let mut b = yes(2, Performance, 30);
        b.dimension = "tangibles".into();
        let mut c = yes(3, Motivation, 10);
        c.dimension = "assurance".into();
        let sections = vec![
            VersionSection {
                code: "one".into(),
                title_zh: String::new(),
                title_en: String::new(),
                items: vec![a, c],
            },
            VersionSection {
                code: "two".into(),
                title_zh: String::new(),
                title_en: String::new(),
                items: vec![b],
            },
            VersionSection {
                code: "three".into(),
                title_zh: String::new(),
                title_en: String::new(),
                items: vec![yes(4, Performance, 5)],
            },
        ];
        let r = run(
            &sections,
            &[(1, YesNo(true)), (2, YesNo(false)), (3, YesNo(true))],
        )
        .expect("scored");
        assert_eq!(
            r.sections,
            [
                ("one".into(), Some(10000)),
                ("two".into(), Some(0)),
                ("three".into(), None)
            ]
        );
        assert_eq!(
            r.dimensions,
            [
                ("empathy".into(), Some(10000)),
                ("assurance".into(), None),
                ("tangibles".into(), Some(0)),
                ("reliability".into(), None)
            ]
        );
    }

    #[test]
    fn answers_that_do_not_fit_are_refused() {
        let mut strict = yes(1, Performance, 10);
        strict.allow_na = false;
        let s = one_section(vec![
            strict,
            item(2, ItemKind::Scale, Performance, 1),
            item(3, ItemKind::Choice, Performance, 1),
            item(4, ItemKind::Count, Performance, 1),
        ]);
        let bad = |answers: &[(u128, Response)]| {
            matches!(run(&s, answers), Err(ScoreError::BadAnswer { .. }))
        };
        assert!(bad(&[(2, Scale(1))]), "N/A where not allowed");
        assert!(bad(&[(1, Scale(1))]), "wrong kind");
        assert!(bad(&[(1, YesNo(true)), (2, Scale(5))]), "above max");
        assert!(
            bad(&[(1, YesNo(true)), (3, Choice("nope".into()))]),
            "unknown option"
        );
        let mut count_na = item(4, ItemKind::Count, Performance, 1);
        count_na.allow_na = true;
        let s = one_section(vec![yes(1, Performance, 1), count_na]);
        assert!(
            matches!(
                run(&s, &[(1, YesNo(true))]),
                Err(ScoreError::BadAnswer { .. })
            ),
            "a count item is never N/A"
        );
    }

    #[test]
    fn totals_stay_within_bounds() {
        // Every combination of answers over a small mixed checklist.
        let s = one_section(vec![
            yes(1, Basic, 7),
            item(2, ItemKind::Scale, Performance, 3),
            item(3, ItemKind::Choice, Motivation, 11),
            item(4, ItemKind::Count, Performance, 1),
        ]);
        let choices = ["best", "half", "under", "none"];
        for a in [true, false] {
            for v in 0..=4 {
                for c in choices {
                    for n in 0..4 {
                        let r = run(
                            &s,
                            &[
                                (1, YesNo(a)),
                                (2, Scale(v)),
                                (3, Choice(c.into())),
                                (4, Count(n)),
                            ],
                        )
                        .expect("scored");
                        assert!((0..=10000).contains(&r.total), "{r:?}");
                        assert_eq!(r.critical_failure, !a);
                        let expected_base = (7 * 2520 * 100 * i128::from(a)
                            + 3 * 2520 * 100 * i128::from(v) / 4)
                            * 10000
                            / (2520 * 100 * 10);
                        assert!(
                            (i128::from(r.base) - expected_base).abs() <= 1,
                            "{r:?} vs {expected_base}"
                        );
                    }
                }
            }
        }
    }
}
