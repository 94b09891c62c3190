//! The quarter's summary as a download: `summary.csv` and `summary.xlsx`,
//! one row per store. Both are written region by region as the figures are
//! read, so memory stays bounded whatever the number of stores: the CSV
//! streams out as it is written, the XLSX is written in rust_xlsxwriter's
//! constant-memory mode to a temporary file and streamed from there.
//!
//! Text cells are neutralised against spreadsheet formulas: in the CSV a
//! text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//! leading `'`; in the XLSX every text is a string cell, never a formula.

use std::borrow::Cow;

use axum::body::Bytes;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use storecheck_shared::compliance::{ItemFailure, RegionCompliance, StoreCompliance, points};
use tokio::sync::mpsc;

use super::Quarterly;
use crate::audits::VersionCache;
use crate::db::scope::Scope;
use crate::error::ApiError;

/// A text as a spreadsheet must read it: never as a formula.
pub fn neutral(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// The download's file name: `storecheck-compliance-2026-Q4.csv`.
pub fn file_name(q: &Quarterly, ext: &str) -> String {
    format!("storecheck-compliance-{}.{ext}", q.quarter)
}

/// The column names of the store rows.
pub fn store_header(q: &Quarterly) -> Vec<String> {
    let mut h: Vec<String> = [
        "quarter",
        "region_code",
        "region_name",
        "store_code",
        "store_name",
        "audits_counted",
        "score",
        "band",
        "critical",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for d in &q.dimensions {
        h.push(format!("{d}_score"));
        h.push(format!("{d}_gap"));
    }
    h.extend(["previous_score", "trend", "rank"].map(str::to_owned));
    h
}

fn opt_points(v: Option<i64>) -> String {
    v.map(points).unwrap_or_default()
}

fn csv_row(q: &Quarterly, r: &StoreCompliance) -> Vec<String> {
    let mut row = vec![
        q.quarter.to_string(),
        neutral(&r.region_code).into_owned(),
        neutral(&r.region_name).into_owned(),
        neutral(&r.store_code).into_owned(),
        neutral(&r.store_name).into_owned(),
        r.audits_counted.to_string(),
        opt_points(r.score),
        r.band.as_str().to_owned(),
        r.critical.to_string(),
    ];
    for d in &r.dimensions {
        row.push(opt_points(d.score));
        row.push(opt_points(d.gap));
    }
    row.push(opt_points(r.previous_score));
    row.push(opt_points(r.trend));
    row.push(r.rank.map(|x| x.to_string()).unwrap_or_default());
    row
}

fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Bytes, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(anyhow::Error::from)?;
    }
    let buf = w
        .into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(Bytes::from(buf))
}

/// Chunks of the CSV, region by region. An error after the first chunk
/// can only cut the download short; it is logged.
/// `db` is the snapshot the figures are read in.
pub fn csv(db: DatabaseTransaction, q: Quarterly) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let result = async {
            let header = csv_bytes([store_header(&q)])?;
            if tx.send(Ok(header)).await.is_err() {
                return Ok(());
            }
            for region in &q.regions {
                let rows = q.region_stores(&db, region).await?;
                let chunk = csv_bytes(rows.iter().filter(|r| q.wanted(r)).map(|r| csv_row(&q, r)))?;
                if tx.send(Ok(chunk)).await.is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
            Ok::<(), ApiError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "compliance CSV cut short");
            let _ = tx.send(Err(std::io::Error::other(e.message))).await;
        }
    });
    rx
}

/// The XLSX, written to a temporary file: stores, regions and the item
/// analysis, each on a sheet of its own.
pub async fn xlsx(
    db: &impl ConnectionTrait,
    versions: &VersionCache,
    scope: &Scope,
    q: &Quarterly,
) -> Result<tempfile::NamedTempFile, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Vec<StoreCompliance>>(2);
    let header = store_header(q);
    let quarter = q.quarter.to_string();
    let dimensions = q.dimensions.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut book = xlsx::Book::new(&quarter, &header, &dimensions)?;
        while let Some(rows) = rx.blocking_recv() {
            for r in &rows {
                book.store(r)?;
            }
        }
        Ok::<_, ApiError>(book)
    });
    let mut regions: Vec<RegionCompliance> = Vec::with_capacity(q.regions.len());
    let mut fed = Ok(());
    for region in &q.regions {
        let rows = match q.region_stores(db, region).await {
            Ok(r) => r,
            Err(e) => {
                fed = Err(e);
                break;
            }
        };
        regions.push(q.region_row(region, &rows));
        let wanted: Vec<StoreCompliance> = rows.into_iter().filter(|r| q.wanted(r)).collect();
        if tx.send(wanted).await.is_err() {
            break;
        }
    }
    drop(tx);
    let book = writer
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("xlsx writer: {e}")))??;
    fed?;
    let items: Vec<ItemFailure> = q.items(db, versions, scope).await?;
    tokio::task::spawn_blocking(move || book.finish(&regions, &items))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("xlsx writer: {e}")))?
}

/// A file's bytes in chunks, for a response body.
pub fn file_chunks(mut file: tokio::fs::File) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    use tokio::io::AsyncReadExt;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let mut buf = vec![0u8; 64 * 1024];
            let chunk = match file.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

mod xlsx {
    //! The workbook: a constant-memory store sheet written row by row as
    //! regions arrive, then the (small) region and item sheets.

    use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, Worksheet, XlsxError};
    use storecheck_shared::compliance::{
        Band, DimensionCompliance, ItemFailure, RegionCompliance, StoreCompliance,
    };

    use crate::error::ApiError;

    fn failed(e: XlsxError) -> ApiError {
        ApiError::internal(anyhow::anyhow!("xlsx: {e}"))
    }

    /// The fill of a band's cell.
    fn band_format(band: Band) -> Format {
        let (fill, font) = match band {
            Band::NonCompliant => (0xF4_B0_B0, 0x7F_00_00),
            Band::Below => (0xFC_E4_A8, 0x6B_4A_00),
            Band::Meets => (0xD5_EF_D0, 0x1E_5B_1E),
            Band::Exceeds => (0x8F_D1_8A, 0x0B_3D_0B),
            Band::NotAudited => (0xE4_E4_E4, 0x40_40_40),
        };
        Format::new()
            .set_background_color(Color::RGB(fill))
            .set_font_color(Color::RGB(font))
    }

    const BANDS: [Band; 5] = [
        Band::NonCompliant,
        Band::Below,
        Band::Meets,
        Band::Exceeds,
        Band::NotAudited,
    ];

    struct Formats {
        header: Format,
        points: Format,
        signed: Format,
        percent: Format,
        bands: Vec<(Band, Format)>,
    }

    impl Formats {
        fn new() -> Self {
            Self {
                header: Format::new()
                    .set_bold()
                    .set_background_color(Color::RGB(0xDD_E4_EE))
                    .set_align(FormatAlign::Center),
                points: Format::new().set_num_format("0.00"),
                signed: Format::new().set_num_format("+0.00;-0.00;0.00"),
                percent: Format::new().set_num_format("0.0%"),
                bands: BANDS.iter().map(|b| (*b, band_format(*b))).collect(),
            }
        }

        fn band(&self, band: Band) -> &Format {
            // Every band has its format.
            &self
                .bands
                .iter()
                .find(|(b, _)| *b == band)
                .unwrap_or(&self.bands[0])
                .1
        }
    }

    fn header_row(
        sheet: &mut Worksheet,
        header: &[impl AsRef<str>],
        widths: &[f64],
        f: &Formats,
    ) -> Result<(), XlsxError> {
        for (col, name) in header.iter().enumerate() {
            let col = col as u16;
            let width = widths.get(col as usize).copied().unwrap_or(12.0);
            sheet.set_column_width(col, width)?;
            sheet.write_string_with_format(0, col, name.as_ref(), &f.header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    }

    fn opt_number(
        sheet: &mut Worksheet,
        row: u32,
        col: u16,
        v: Option<i64>,
        format: &Format,
    ) -> Result<(), XlsxError> {
        if let Some(v) = v {
            sheet.write_number_with_format(row, col, v as f64 / 100.0, format)?;
        }
        Ok(())
    }

    fn dimension_cells(
        sheet: &mut Worksheet,
        row: u32,
        col: &mut u16,
        dims: &[DimensionCompliance],
        f: &Formats,
    ) -> Result<(), XlsxError> {
        for d in dims {
            opt_number(sheet, row, *col, d.score, &f.points)?;
            opt_number(sheet, row, *col + 1, d.gap, &f.signed)?;
            *col += 2;
        }
        Ok(())
    }

    /// The workbook being written.
    pub struct Book {
        workbook: Workbook,
        formats: Formats,
        quarter: String,
        dimensions: Vec<String>,
        columns: u16,
        row: u32,
    }

    impl Book {
        pub fn new(
            quarter: &str,
            header: &[String],
            dimensions: &[String],
        ) -> Result<Self, ApiError> {
            let mut workbook = Workbook::new();
            let formats = Formats::new();
            let sheet = workbook
                .add_worksheet_with_constant_memory()
                .map_err(failed)?;
            sheet.set_name("stores").map_err(failed)?;
            // quarter, region code, region name, store code, store name,
            // audits, score, band, critical, then the dimensions.
            let mut widths = vec![9.0, 12.0, 22.0, 12.0, 30.0, 8.0, 9.0, 14.0, 9.0];
            widths.extend(std::iter::repeat_n(11.0, dimensions.len() * 2));
            widths.extend([10.0, 9.0, 7.0]);
            header_row(sheet, header, &widths, &formats).map_err(failed)?;
            Ok(Self {
                workbook,
                formats,
                quarter: quarter.to_owned(),
                dimensions: dimensions.to_vec(),
                columns: header.len() as u16,
                row: 0,
            })
        }

        /// One store's row, after the rows already written.
        pub fn store(&mut self, r: &StoreCompliance) -> Result<(), ApiError> {
            self.row += 1;
            let row = self.row;
            let f = &self.formats;
            let sheet = self.workbook.worksheet_from_index(0).map_err(failed)?;
            let text = [
                self.quarter.as_str(),
                &r.region_code,
                &r.region_name,
                &r.store_code,
                &r.store_name,
            ];
            (|| {
                // Written as string cells: a text is never read as a formula.
                for (col, t) in text.iter().enumerate() {
                    sheet.write_string(row, col as u16, *t)?;
                }
                sheet.write_number(row, 5, r.audits_counted as f64)?;
                opt_number(sheet, row, 6, r.score, &f.points)?;
                sheet.write_string_with_format(row, 7, r.band.as_str(), f.band(r.band))?;
                sheet.write_boolean(row, 8, r.critical)?;
                let mut col = 9;
                dimension_cells(sheet, row, &mut col, &r.dimensions, f)?;
                opt_number(sheet, row, col, r.previous_score, &f.points)?;
                opt_number(sheet, row, col + 1, r.trend, &f.signed)?;
                if let Some(rank) = r.rank {
                    sheet.write_number(row, col + 2, rank as f64)?;
                }
                Ok(())
            })()
            .map_err(failed)
        }

        /// The region and item sheets, then the file.
        pub fn finish(
            mut self,
            regions: &[RegionCompliance],
            items: &[ItemFailure],
        ) -> Result<tempfile::NamedTempFile, ApiError> {
            let f = &self.formats;
            (|| {
                let stores = self.workbook.worksheet_from_index(0)?;
                stores.autofilter(0, 0, self.row, self.columns - 1)?;

                let sheet = self.workbook.add_worksheet();
                sheet.set_name("regions")?;
                let mut header: Vec<String> = [
                    "quarter",
                    "region_code",
                    "region_name",
                    "stores",
                    "audited",
                    "non_compliant",
                    "below",
                    "meets",
                    "exceeds",
                    "not_audited",
                    "mean_score",
                ]
                .map(str::to_owned)
                .to_vec();
                for d in &self.dimensions {
                    header.push(format!("{d}_mean"));
                    header.push(format!("{d}_gap"));
                }
                let widths = [9.0, 12.0, 22.0, 8.0, 8.0, 13.0, 8.0, 8.0, 8.0, 11.0, 11.0];
                header_row(sheet, &header, &widths, f)?;
                for (i, r) in regions.iter().enumerate() {
                    let row = i as u32 + 1;
                    sheet.write_string(row, 0, &self.quarter)?;
                    sheet.write_string(row, 1, &r.region_code)?;
                    sheet.write_string(row, 2, &r.region_name)?;
                    let b = &r.bands;
                    let counts = [
                        r.stores,
                        r.audited,
                        b.non_compliant,
                        b.below,
                        b.meets,
                        b.exceeds,
                        b.not_audited,
                    ];
                    for (c, n) in counts.iter().enumerate() {
                        sheet.write_number(row, 3 + c as u16, *n as f64)?;
                    }
                    opt_number(sheet, row, 10, r.mean_score, &f.points)?;
                    let mut col = 11;
                    dimension_cells(sheet, row, &mut col, &r.dimensions, f)?;
                }
                sheet.autofilter(0, 0, regions.len() as u32, header.len() as u16 - 1)?;

                let sheet = self.workbook.add_worksheet();
                sheet.set_name("items")?;
                let header = [
                    "quarter",
                    "standard_code",
                    "dimension",
                    "text_en",
                    "text_zh",
                    "assessed",
                    "failed",
                    "failure_rate",
                ];
                let widths = [9.0, 16.0, 12.0, 50.0, 30.0, 9.0, 8.0, 12.0];
                header_row(sheet, &header, &widths, f)?;
                for (i, it) in items.iter().enumerate() {
                    let row = i as u32 + 1;
                    sheet.write_string(row, 0, &self.quarter)?;
                    sheet.write_string(row, 1, &it.standard_code)?;
                    sheet.write_string(row, 2, &it.dimension)?;
                    sheet.write_string(row, 3, &it.text_en)?;
                    sheet.write_string(row, 4, &it.text_zh)?;
                    sheet.write_number(row, 5, it.assessed as f64)?;
                    sheet.write_number(row, 6, it.failed as f64)?;
                    sheet.write_number_with_format(row, 7, it.failure_rate, &f.percent)?;
                }
                sheet.autofilter(0, 0, items.len() as u32, header.len() as u16 - 1)?;
                Ok::<_, XlsxError>(())
            })()
            .map_err(failed)?;
            let mut file = tempfile::NamedTempFile::new().map_err(anyhow::Error::from)?;
            self.workbook
                .save_to_writer(file.as_file_mut())
                .map_err(failed)?;
            Ok(file)
        }
    }
}
