use sea_orm::entity::prelude::*;

/// One stored photo file (a photo id and the SHA-256 its manifest lists):
/// when its upload URL was last given out and what processing found.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "photo_files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub photo_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    pub audit_id: Uuid,
    /// Unix milliseconds.
    pub url_issued_at: Option<i64>,
    /// Unix milliseconds of the sweep's last look for an uncompleted upload.
    pub swept_at: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub exif_taken_at: Option<DateTimeUtc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The 64-bit perceptual hash, its bits as a signed integer.
    pub phash: Option<i64>,
    pub band0: Option<i32>,
    pub band1: Option<i32>,
    pub band2: Option<i32>,
    pub band3: Option<i32>,
    pub invalid_reason: Option<String>,
    /// JSON array of evidence flags.
    pub flags: String,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
