//! Compliance (SPEC §5, §9): per store, per region and per standard, from
//! approved audits only, read at the moment of asking. The figures are
//! never stored apart from the audits they come from, so an approval,
//! return or override is in every figure from its commit on, and nothing
//! reads a half-updated summary.
//!
//! Work goes region by region (ranks are within a region), so memory is
//! bounded by the largest region, whatever the number of stores.

pub mod export;

use std::collections::{BTreeMap, HashMap};

use sea_orm::ConnectionTrait;
use storecheck_shared::compliance::{
    Band, ComplianceSettings, ItemFailure, RegionCompliance, StoreCompliance, StoreFacts, rank,
    sort_failures,
};
use storecheck_shared::quarter::Quarter;
use uuid::Uuid;

use crate::audits::VersionCache;
use crate::db;
use crate::db::scope::Scope;
use crate::entities::regions;
use crate::error::ApiError;

/// What a compliance read is about.
pub struct Selection {
    pub quarter: Quarter,
    pub region_id: Option<Uuid>,
    pub band: Option<Band>,
}

/// Everything a quarter's figures need besides the audits.
pub struct Quarterly {
    pub quarter: Quarter,
    pub settings: ComplianceSettings,
    pub dimensions: Vec<String>,
    pub regions: Vec<regions::Model>,
    versions: Vec<Uuid>,
    previous: Vec<Uuid>,
    band: Option<Band>,
    region_id: Option<Uuid>,
}

impl Quarterly {
    pub async fn load(
        db: &impl ConnectionTrait,
        scope: &Scope,
        sel: &Selection,
    ) -> Result<Quarterly, ApiError> {
        if matches!(scope, Scope::Auditor { .. }) {
            return Err(ApiError::forbidden(
                "compliance is for regional managers and HQ",
            ));
        }
        if let Some(r) = sel.region_id
            && !scope.covers_region(r)
        {
            return Err(ApiError::not_found("region"));
        }
        let regions = db::compliance::regions(db, scope, sel.region_id).await?;
        if sel.region_id.is_some() && regions.is_empty() {
            return Err(ApiError::not_found("region"));
        }
        Ok(Quarterly {
            quarter: sel.quarter,
            settings: db::review::settings(db).await?,
            dimensions: db::compliance::dimension_codes(db).await?,
            regions,
            versions: db::compliance::versions_of(db, &sel.quarter.to_string()).await?,
            previous: db::compliance::versions_of(db, &sel.quarter.previous().to_string()).await?,
            band: sel.band,
            region_id: sel.region_id,
        })
    }

    /// Every store of a region, ranked; filtered by band afterwards, so a
    /// rank is always the rank among all the region's stores.
    pub async fn region_stores(
        &self,
        db: &impl ConnectionTrait,
        region: &regions::Model,
    ) -> Result<Vec<StoreCompliance>, ApiError> {
        let stores = db::compliance::stores_of(db, region.id).await?;
        let now = db::compliance::counted_in_region(db, region.id, &self.versions, true).await?;
        let before =
            db::compliance::counted_in_region(db, region.id, &self.previous, false).await?;
        let mut rows: Vec<StoreCompliance> = stores
            .iter()
            .map(|s| {
                let previous = before
                    .get(&s.id)
                    .and_then(|c| storecheck_shared::compliance::mean(c.total_sum, c.audits));
                self.settings.store_row(
                    &StoreFacts {
                        store_id: s.id,
                        store_code: &s.code,
                        store_name: &s.name,
                        region_id: region.id,
                        region_code: &region.code,
                        region_name: &region.name,
                    },
                    &self.dimensions,
                    now.get(&s.id),
                    previous,
                )
            })
            .collect();
        rank(&mut rows);
        Ok(rows)
    }

    /// Whether a row passes the band filter.
    pub fn wanted(&self, row: &StoreCompliance) -> bool {
        self.band.is_none_or(|b| b == row.band)
    }

    pub fn region_row(
        &self,
        region: &regions::Model,
        rows: &[StoreCompliance],
    ) -> RegionCompliance {
        self.settings.region_row(
            region.id,
            &region.code,
            &region.name,
            &self.dimensions,
            rows,
        )
    }

    /// How often each standard failed in the quarter's approved audits of
    /// these regions, most-failed first. Items of different checklist
    /// versions are the same standard when they share its code.
    pub async fn items(
        &self,
        db: &impl ConnectionTrait,
        versions: &VersionCache,
        scope: &Scope,
    ) -> Result<Vec<ItemFailure>, ApiError> {
        let regions = match (scope, self.region_id) {
            (Scope::All, None) => None,
            _ => Some(self.regions.iter().map(|r| r.id).collect()),
        };
        let counts = db::compliance::item_failures(db, regions, &self.versions).await?;
        let mut by_standard: BTreeMap<String, ItemFailure> = BTreeMap::new();
        let mut parsed = HashMap::new();
        for (version_id, item_code, assessed, failed) in counts {
            if let std::collections::hash_map::Entry::Vacant(e) = parsed.entry(version_id) {
                let v = versions.get(db, version_id).await?.ok_or_else(|| {
                    crate::audits::corrupt(format!("version {version_id} vanished"))
                })?;
                e.insert(v);
            }
            let Some(item) = parsed[&version_id]
                .sections
                .iter()
                .flat_map(|s| s.items.iter())
                .find(|i| i.code == item_code)
            else {
                return Err(crate::audits::corrupt(format!(
                    "item {item_code} not in version {version_id}"
                )));
            };
            let e = by_standard
                .entry(item.standard_code.clone())
                .or_insert_with(|| ItemFailure {
                    standard_code: item.standard_code.clone(),
                    text_en: item.text_en.clone(),
                    text_zh: item.text_zh.clone(),
                    dimension: item.dimension.clone(),
                    assessed: 0,
                    failed: 0,
                    failure_rate: 0.0,
                });
            e.assessed += assessed;
            e.failed += failed;
        }
        let mut items: Vec<ItemFailure> = by_standard
            .into_values()
            .map(|mut i| {
                i.failure_rate = if i.assessed > 0 {
                    i.failed as f64 / i.assessed as f64
                } else {
                    0.0
                };
                i
            })
            .collect();
        sort_failures(&mut items);
        Ok(items)
    }
}
