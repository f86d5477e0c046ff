//! Lake-wide metadata: the time zone partitions were cut in, the masking setting, and the
//! schema registry.
//!
//! The time zone is recorded by the first ingest. Partition boundaries depend on it, so a later
//! run with another zone would split days differently and scatter a day over two partitions; it
//! is refused instead. The masking setting (see [`crate::mask`]) is recorded likewise: a lake
//! masked in some runs and not in others would leak what the operator meant to hide, so another
//! setting is refused unless `--allow-mask-change` says the operator knows.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::lake::Layout;
use crate::mask::Mask;
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
    /// What ingest masks in contact records (absent in lakes of older versions: nothing).
    #[serde(default)]
    pub mask: Mask,
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
        let meta: LakeMeta = serde_json::from_slice(&bytes)
            .map_err(|e| Error::data(&path, format!("unreadable lake metadata: {e}")))?;
        if meta.schema_version > SCHEMA_VERSION || meta.schema_version == 0 {
            return Err(Error::data(
                &path,
                format!(
                    "schema version {} is not one this wxlake knows (it writes version {SCHEMA_VERSION}); use the wxlake that wrote the lake",
                    meta.schema_version
                ),
            ));
        }
        Ok(Some(meta))
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
///
/// A lake that holds data files but has lost `metadata/lake.json` is never silently given the
/// default zone (that would split days differently and store messages twice): the zone is
/// recovered from what the files record, or taken from an explicit `--timezone`, or refused.
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
        (None, requested) => match recorded_timezone(layout)? {
            Recorded::None => {
                requested.unwrap_or_else(|| DEFAULT_TIMEZONE.parse().expect("default zone exists"))
            }
            Recorded::Zone(recorded) => {
                if let Some(req) = requested
                    && req != recorded
                {
                    return Err(Error::TimeZoneMismatch {
                        path: layout.lake_dir(),
                        lake: recorded.name().to_string(),
                        requested: req.name().to_string(),
                    });
                }
                tracing::warn!(
                    timezone = recorded.name(),
                    "{} is missing; the lake's data files record their time zone, so that is used",
                    layout.lake_meta_path().display()
                );
                recorded
            }
            Recorded::Unknown(files) => match requested {
                Some(req) => {
                    tracing::warn!(
                        timezone = req.name(),
                        "{} is missing and the data files do not record a time zone; using --timezone",
                        layout.lake_meta_path().display()
                    );
                    req
                }
                None => {
                    return Err(Error::data(
                        layout.lake_meta_path(),
                        format!(
                            "missing, but the lake holds data files ({files} partitions) that do not \
                             record their time zone; restore it from a backup, or pass --timezone \
                             with the zone the lake was written in"
                        ),
                    ));
                }
            },
        },
    };
    Ok((tz, meta))
}

/// What the data files of a lake without `lake.json` say about its time zone.
enum Recorded {
    /// No data files: a new lake.
    None,
    Zone(Tz),
    /// Data files (this many partitions) without a recorded zone.
    Unknown(usize),
}

/// The time zone recorded in the lake's data files: read from the first file of the first and
/// the last partition, which must agree.
fn recorded_timezone(layout: &Layout) -> Result<Recorded> {
    let partitions = layout.partitions()?;
    let (Some(first), Some(last)) = (partitions.first(), partitions.last()) else {
        return Ok(Recorded::None);
    };
    let mut zones = Vec::new();
    for key in [first, last] {
        if let Some(path) = layout.partition_files(*key)?.first() {
            zones.push(crate::lake::footer::read_footer(path)?.timezone);
        }
    }
    match zones.as_slice() {
        [] => Ok(Recorded::None),
        [Some(a), rest @ ..] if rest.iter().all(|z| z.as_ref() == Some(a)) => {
            let tz = parse_timezone(a).map_err(|_| {
                Error::data(
                    layout.lake_dir(),
                    format!("data files record an unknown time zone {a}"),
                )
            })?;
            Ok(Recorded::Zone(tz))
        }
        _ => Ok(Recorded::Unknown(partitions.len())),
    }
}

/// Record `tz` as the lake's time zone and `mask` as its masking, and write the schema
/// registry (first ingest only).
pub fn init_lake(layout: &Layout, tz: Tz, mask: Mask) -> Result<LakeMeta> {
    let meta = LakeMeta {
        timezone: tz.name().to_string(),
        schema_version: SCHEMA_VERSION,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        created_by: format!("wxlake {}", env!("CARGO_PKG_VERSION")),
        mask,
    };
    write_schema_registry(layout)?;
    save(layout, &meta)?;
    Ok(meta)
}

fn save(layout: &Layout, meta: &LakeMeta) -> Result<()> {
    let json = serde_json::to_vec_pretty(meta).expect("serializes");
    write_atomic(&layout.lake_meta_path(), &json, "lake_meta")
}

/// Bring an existing lake's metadata up to this version (its schema version and registry),
/// before a writer adds files of the current schema. Nothing is rewritten when it is current.
pub fn upgrade(layout: &Layout, meta: &mut LakeMeta) -> Result<()> {
    let registry_current = std::fs::read(layout.schema_registry_path())
        .ok()
        .and_then(|b| serde_json::from_slice::<SchemaRegistry>(&b).ok())
        .is_some_and(|r| r.current == SCHEMA_VERSION && !r.tables.is_empty());
    if !registry_current {
        write_schema_registry(layout)?;
    }
    if meta.schema_version < SCHEMA_VERSION {
        meta.schema_version = SCHEMA_VERSION;
        save(layout, meta)?;
    }
    Ok(())
}

/// The masking to use: the lake's own, unless `requested` differs — refused without
/// `allow_change`, else recorded (rows already stored stay as they are).
pub fn resolve_mask(
    layout: &Layout,
    meta: &mut LakeMeta,
    requested: Option<Mask>,
    allow_change: bool,
) -> Result<Mask> {
    match requested {
        Some(req) if req != meta.mask => {
            if !allow_change {
                return Err(Error::usage(
                    "--mask",
                    req.to_string(),
                    format!(
                        "this lake is ingested with --mask {} (recorded in {}); pass that, or add \
                         --allow-mask-change to switch (contact rows already stored stay as they are)",
                        meta.mask,
                        layout.lake_meta_path().display()
                    ),
                ));
            }
            tracing::warn!(
                from = %meta.mask,
                to = %req,
                "masking changed; contact rows already stored keep the old setting"
            );
            meta.mask = req;
            save(layout, meta)?;
            Ok(req)
        }
        _ => Ok(meta.mask),
    }
}

/// One entry of `metadata/schema_registry.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub version: u32,
    pub created_at: String,
    pub description: String,
    pub fields: Vec<FieldSpec>,
}

/// The schema of one side table (`parquet/contacts/`, `parquet/events/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableSchema {
    pub version: u32,
    pub path: String,
    pub description: String,
    pub fields: Vec<FieldSpec>,
}

/// `metadata/schema_registry.json`: the message schema's versions, and the side tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaRegistry {
    pub current: u32,
    pub versions: Vec<SchemaVersion>,
    #[serde(default)]
    pub tables: std::collections::BTreeMap<String, TableSchema>,
}

/// The registry as this version of wxlake defines it.
pub fn schema_registry() -> SchemaRegistry {
    let mut tables = std::collections::BTreeMap::new();
    tables.insert(
        "contacts".to_string(),
        TableSchema {
            version: crate::contact::CONTACTS_SCHEMA_VERSION,
            path: "parquet/contacts".to_string(),
            description: "every version of every contact, chatroom and official account \
                          (webhook notify types 1200 update, 1201 delete, 1202 detail); not \
                          partitioned"
                .to_string(),
            fields: crate::contact::field_specs(),
        },
    );
    tables.insert(
        "events".to_string(),
        TableSchema {
            version: crate::event::EVENTS_SCHEMA_VERSION,
            path: "parquet/events".to_string(),
            description: "records of other webhook notify types, verbatim; not partitioned"
                .to_string(),
            fields: crate::event::field_specs(),
        },
    );
    SchemaRegistry {
        current: SCHEMA_VERSION,
        versions: vec![
            SchemaVersion {
                version: 1,
                created_at: "2026-11-25T00:00:00Z".to_string(),
                description: "WeChat messages: typed columns, unknown keys kept in extra_fields; \
                              partitioned by year/month/day of create_time in the lake's time zone"
                    .to_string(),
                fields: field_specs(1),
            },
            SchemaVersion {
                version: 2,
                created_at: "2026-12-01T00:00:00Z".to_string(),
                description: "version 1 plus the webhook's guid and notify_type (appended; \
                              version-1 files read them as null)"
                    .to_string(),
                fields: field_specs(2),
            },
            SchemaVersion {
                version: 3,
                created_at: "2026-12-02T00:00:00Z".to_string(),
                description: "version 2 plus as_sent and what each message is, derived from \
                              msg_type, content and source (kind, app_type, title, url, \
                              file_size, quoted_msg_id, revoked_msg_id, mentions, text; \
                              appended); a 4.x packed msg_type is split into msg_type and \
                              app_type. Files of versions 1 and 2 read the new columns as null \
                              until `wxlake migrate` rewrites them (compact and archive upgrade \
                              the partitions they rewrite)"
                    .to_string(),
                fields: field_specs(3),
            },
        ],
        tables,
    }
}

fn write_schema_registry(layout: &Layout) -> Result<()> {
    let registry = schema_registry();
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
        init_lake(&layout, tz, Mask::NONE).unwrap();
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
        assert_eq!(registry.versions[1].fields.len(), 12);
        assert_eq!(registry.versions[2].fields.len(), 22);
        assert_eq!(registry.current, 3);
        assert!(registry.tables.contains_key("contacts") && registry.tables.contains_key("events"));
    }

    #[test]
    fn another_mask_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.metadata_dir()).unwrap();
        let mobile: Mask = "mobile".parse().unwrap();
        let mut meta = init_lake(&layout, chrono_tz::UTC, mobile).unwrap();
        assert_eq!(
            resolve_mask(&layout, &mut meta, None, false).unwrap(),
            mobile
        );
        let err = resolve_mask(&layout, &mut meta, Some(Mask::NONE), false).unwrap_err();
        assert_eq!(err.exit_code() as u8, 64);
        assert!(err.to_string().contains("--mask mobile"), "{err}");
        assert_eq!(
            resolve_mask(&layout, &mut meta, Some(Mask::NONE), true).unwrap(),
            Mask::NONE
        );
        assert_eq!(LakeMeta::load(&layout).unwrap().unwrap().mask, Mask::NONE);
    }

    #[test]
    fn bad_zone_names_are_usage_errors() {
        let err = parse_timezone("Mars/Olympus").unwrap_err();
        assert_eq!(err.exit_code() as u8, 64);
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
