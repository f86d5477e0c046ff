//! Lake-wide metadata: the time zone partitions were cut in, and the schema registry.
//!
//! The time zone is recorded by the first ingest. Partition boundaries depend on it, so a later
//! run with another zone would split days differently and scatter a day over two partitions; it
//! is refused instead.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::lake::Layout;
use crate::record::{FieldSpec, SCHEMA_VERSION, field_specs};

/// The time zone used when neither `--timezone` nor the lake says otherwise.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// `metadata/lake.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LakeMeta {
    pub timezone: String,
    pub schema_version: u32,
    pub created_at: String,
    pub created_by: String,
}

impl LakeMeta {
    /// Read the lake's metadata; `None` for a lake that has never been written.
    pub fn load(layout: &Layout) -> Result<Option<Self>> {
        let path = layout.lake_meta_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::data(&path, format!("unreadable lake metadata: {e}")))
    }
}

/// Parse an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::usage(
            "--timezone",
            name,
            "not an IANA time zone name (for example Asia/Shanghai or UTC)",
        )
    })
}

/// The time zone to use for `layout`: the lake's own, checked against `requested` (from
/// `--timezone`/`WXLAKE_TIMEZONE`); for a new lake `requested` or [`DEFAULT_TIMEZONE`].
pub fn resolve_timezone(
    layout: &Layout,
    requested: Option<&str>,
) -> Result<(Tz, Option<LakeMeta>)> {
    let requested_tz = requested.map(parse_timezone).transpose()?;
    let meta = LakeMeta::load(layout)?;
    let tz = match (&meta, requested_tz) {
        (Some(meta), requested) => {
            let lake_tz = parse_timezone(&meta.timezone).map_err(|_| {
                Error::data(
                    layout.lake_meta_path(),
                    format!("unknown time zone {}", meta.timezone),
                )
            })?;
            if let Some(req) = requested
                && req != lake_tz
            {
                return Err(Error::TimeZoneMismatch {
                    path: layout.lake_meta_path(),
                    lake: meta.timezone.clone(),
                    requested: req.name().to_string(),
                });
            }
            lake_tz
        }
        (None, Some(req)) => req,
        (None, None) => DEFAULT_TIMEZONE.parse().expect("default zone exists"),
    };
    Ok((tz, meta))
}

/// Record `tz` as the lake's time zone and write the schema registry (first ingest only).
pub fn init_lake(layout: &Layout, tz: Tz) -> Result<LakeMeta> {
    let meta = LakeMeta {
        timezone: tz.name().to_string(),
        schema_version: SCHEMA_VERSION,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        created_by: format!("wxlake {}", env!("CARGO_PKG_VERSION")),
    };
    write_schema_registry(layout, &meta.created_at)?;
    let json = serde_json::to_vec_pretty(&meta).expect("serializes");
    write_atomic(&layout.lake_meta_path(), &json, "lake_meta")?;
    Ok(meta)
}

/// One entry of `metadata/schema_registry.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub version: u32,
    pub created_at: String,
    pub description: String,
    pub fields: Vec<FieldSpec>,
}

/// `metadata/schema_registry.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaRegistry {
    pub current: u32,
    pub versions: Vec<SchemaVersion>,
}

fn write_schema_registry(layout: &Layout, created_at: &str) -> Result<()> {
    let registry = SchemaRegistry {
        current: SCHEMA_VERSION,
        versions: vec![SchemaVersion {
            version: 1,
            created_at: created_at.to_string(),
            description: "WeChat messages: typed columns, unknown keys kept in extra_fields; \
                          partitioned by year/month/day of create_time in the lake's time zone"
                .to_string(),
            fields: field_specs(),
        }],
    };
    let json = serde_json::to_vec_pretty(&registry).expect("serializes");
    write_atomic(&layout.schema_registry_path(), &json, "schema_registry")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_lake_takes_requested_or_default_zone_then_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.metadata_dir()).unwrap();
        let (tz, meta) = resolve_timezone(&layout, None).unwrap();
        assert_eq!((tz.name(), meta), ("Asia/Shanghai", None));
        let (tz, _) = resolve_timezone(&layout, Some("UTC")).unwrap();
        init_lake(&layout, tz).unwrap();
        assert_eq!(resolve_timezone(&layout, None).unwrap().0.name(), "UTC");
        assert_eq!(
            resolve_timezone(&layout, Some("UTC")).unwrap().0.name(),
            "UTC"
        );
        let err = resolve_timezone(&layout, Some("Asia/Shanghai")).unwrap_err();
        assert!(matches!(err, Error::TimeZoneMismatch { .. }), "{err}");
        assert!(err.to_string().contains("--timezone UTC"), "{err}");
        let registry: SchemaRegistry =
            serde_json::from_slice(&std::fs::read(layout.schema_registry_path()).unwrap()).unwrap();
        assert_eq!(registry.versions[0].fields.len(), 10);
    }

    #[test]
    fn bad_zone_names_are_usage_errors() {
        let err = parse_timezone("Mars/Olympus").unwrap_err();
        assert_eq!(err.exit_code() as u8, 64);
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
