//! Who is asking, and the one rule of what they may see (SPEC §1).
//!
//! Every list and read in `db/` filters through a [`Scope`]: head office
//! sees everything, a regional manager what belongs to the stores of their
//! regions, an auditor their own work (and the stores of their regions).
//! Whatever falls outside is simply not found, so ids never leak.

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};
use storecheck_shared::Role;
use uuid::Uuid;

use crate::entities::{stores, user_regions};

/// The signed-in caller, as the session check loads it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub region_ids: Vec<Uuid>,
    pub session_id: Uuid,
}

impl Caller {
    pub fn is_hq(&self) -> bool {
        self.role == Role::Hq
    }

    /// What the caller may see.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Hq => Scope::All,
            Role::RegionalManager => Scope::Regions {
                user: self.id,
                regions: self.region_ids.clone(),
            },
            Role::Auditor => Scope::Auditor {
                user: self.id,
                regions: self.region_ids.clone(),
            },
        }
    }
}

/// What a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Head office: everything.
    All,
    /// A regional manager: the stores of these regions, and whatever
    /// belongs to them (assignments, audits, users of those regions).
    Regions { user: Uuid, regions: Vec<Uuid> },
    /// An auditor: their own assignments and audits; the stores of their
    /// regions; themself.
    Auditor { user: Uuid, regions: Vec<Uuid> },
}

impl Scope {
    /// Whether the scope covers a region.
    pub fn covers_region(&self, region: Uuid) -> bool {
        match self {
            Scope::All => true,
            Scope::Regions { regions, .. } | Scope::Auditor { regions, .. } => {
                regions.contains(&region)
            }
        }
    }

    fn regions(&self) -> Option<&[Uuid]> {
        match self {
            Scope::All => None,
            Scope::Regions { regions, .. } | Scope::Auditor { regions, .. } => Some(regions),
        }
    }

    /// Rows keyed by a region (regions, stores): `col` is the region id.
    pub fn by_region(&self, col: impl ColumnTrait) -> Condition {
        match self.regions() {
            None => Condition::all(),
            Some(r) => Condition::all().add(col.is_in(r.to_vec())),
        }
    }

    /// Rows that belong to a store and an auditor (assignments, audits):
    /// a manager sees those of their regions' stores, an auditor their own.
    pub fn by_store_or_auditor(
        &self,
        store_col: impl ColumnTrait,
        auditor_col: impl ColumnTrait,
    ) -> Condition {
        match self {
            Scope::All => Condition::all(),
            Scope::Regions { regions, .. } => {
                Condition::all().add(store_col.in_subquery(stores_in_regions(regions.clone())))
            }
            Scope::Auditor { user, .. } => Condition::all().add(auditor_col.eq(*user)),
        }
    }

    /// Users: a manager sees themself and the users sharing one of their
    /// regions; an auditor only themself.
    pub fn by_user(&self, id_col: impl ColumnTrait) -> Condition {
        match self {
            Scope::All => Condition::all(),
            Scope::Regions { user, regions } => Condition::any()
                .add(id_col.eq(*user))
                .add(id_col.in_subquery(users_in_regions(regions.clone()))),
            Scope::Auditor { user, .. } => Condition::all().add(id_col.eq(*user)),
        }
    }
}

/// `SELECT id FROM stores WHERE region_id IN (…)`.
pub fn stores_in_regions(regions: Vec<Uuid>) -> SelectStatement {
    Query::select()
        .column(stores::Column::Id)
        .from(stores::Entity)
        .and_where(stores::Column::RegionId.is_in(regions))
        .to_owned()
}

/// `SELECT user_id FROM user_regions WHERE region_id IN (…)`.
pub fn users_in_regions(regions: Vec<Uuid>) -> SelectStatement {
    Query::select()
        .column(user_regions::Column::UserId)
        .from(user_regions::Entity)
        .and_where(user_regions::Column::RegionId.is_in(regions))
        .to_owned()
}
