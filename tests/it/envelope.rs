//! Webhook collectors' input: envelopes, contact and event records, retries and masking, on the
//! generator's `--envelope` output checked against an oracle read from the raw lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use serde_json::Value;

use crate::common::*;

/// What the raw lines say should land, read independently with serde_json.
#[derive(Default, Debug)]
struct Oracle {
    /// msg_id → the guid of its first copy (None for flat lines without one).
    first_guid: BTreeMap<String, Option<String>>,
    /// notify_type → distinct guids of contact/event records.
    side_guids: BTreeMap<i64, BTreeSet<String>>,
    /// Every mobile number and custom info detail sent.
    personal: BTreeSet<String>,
}

fn oracle(env: &TestEnv) -> Oracle {
    let mut o = Oracle::default();
    let mut paths: Vec<_> = fs::read_dir(env.data.join("messages/raw"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = fs::read(&path).unwrap();
        for line in bytes.split(|&b| b == b'\n') {
            let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            let envelope =
                !obj.contains_key("msg_id") && obj.get("data").is_some_and(Value::is_object);
            let (record, guid, notify) = if envelope {
                (
                    obj["data"].as_object().unwrap().clone(),
                    obj.get("guid").and_then(Value::as_str).map(String::from),
                    obj.get("notify_type").and_then(Value::as_i64),
                )
            } else {
                (
                    obj.clone(),
                    obj.get("guid").and_then(Value::as_str).map(String::from),
                    obj.get("notify_type").and_then(Value::as_i64),
                )
            };
            match notify {
                Some(n @ (1200 | 1201 | 1202 | 1003)) if !record.contains_key("msg_id") => {
                    o.side_guids
                        .entry(n)
                        .or_default()
                        .insert(guid.expect("generated records have guids"));
                    if let Some(m) = record
                        .get("mobile")
                        .and_then(Value::as_str)
                        .filter(|m| m.len() >= 8)
                    {
                        o.personal.insert(m.to_string());
                    }
                    if let Some(d) = record
                        .get("customInfo")
                        .and_then(|c| c.get("detail"))
                        .and_then(Value::as_str)
                    {
                        o.personal.insert(d.to_string());
                    }
                }
                _ => {
                    let id = match record.get("msg_id") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => continue,
                    };
                    let time_ok = match record.get("create_time") {
                        Some(Value::Number(_)) => true,
                        Some(Value::String(s)) => s.bytes().all(|b| b.is_ascii_digit()),
                        _ => false,
                    };
                    if time_ok {
                        o.first_guid.entry(id).or_insert(guid);
                    }
                }
            }
        }
    }
    o
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn envelope_input_lands_messages_contacts_and_events_exactly_once() {
    let env = TestEnv::new();
    generate(
        &env.data,
        &[
            "--envelope",
            "--days",
            "3",
            "--per-day",
            "200",
            "--seed",
            "7",
            "--ensure-defects",
            "--start-date",
            "2026-01-20",
        ],
    );
    let o = oracle(&env);
    let v = env.ingest(&[]);

    // Every contact and event record once; retries under the same guid are duplicates.
    let distinct = |n: i64| o.side_guids.get(&n).map_or(0, BTreeSet::len) as u64;
    assert_eq!(count(&v, "contact_updates"), distinct(1200), "{v}");
    assert_eq!(count(&v, "contact_deletes"), distinct(1201), "{v}");
    assert_eq!(count(&v, "contact_details"), distinct(1202), "{v}");
    assert_eq!(count(&v, "events"), distinct(1003), "{v}");
    assert!(
        count(&v, "contact_deletes") > 0 && count(&v, "contact_details") > 0,
        "{v}"
    );
    let mut stored = env.side_column("contacts", "guid");
    stored.sort();
    let mut want: Vec<String> = [1200, 1201, 1202]
        .iter()
        .flat_map(|n| o.side_guids.get(n).into_iter().flatten().cloned())
        .collect();
    want.sort();
    assert_eq!(stored, want);

    // Every message the oracle accepts is stored once, with the guid of its first copy.
    let counts = env.id_counts();
    for id in o.first_guid.keys() {
        assert_eq!(counts.get(id), Some(&1), "msg_id {id}");
    }
    assert_eq!(counts.len() as u64, count(&v, "written"));
    let out = env.run(&[
        "query",
        "--start",
        "2026-01-19",
        "--end",
        "2026-01-23",
        "--format",
        "jsonl",
    ]);
    out.assert_code(0);
    let mut with_guid = 0;
    for line in out.stdout.lines() {
        let m: Value = serde_json::from_str(line).unwrap();
        let id = m["msg_id"].as_str().unwrap();
        if let Some(want) = o.first_guid.get(id) {
            assert_eq!(m["guid"].as_str().map(String::from), *want, "guid of {id}");
            with_guid += usize::from(want.is_some());
            if want.is_some() {
                assert_eq!(m["notify_type"], 1010, "{line}");
            }
        }
    }
    assert!(
        with_guid > 500,
        "envelope messages carry their guid ({with_guid})"
    );

    // Contact history: versions in time order per username, stamped inside the raw files' days.
    let users = env.side_column("contacts", "username");
    let observed = env.side_column("contacts", "observed_at");
    let (lo, hi) = (
        shanghai(2026, 1, 19, 0, 0, 0),
        shanghai(2026, 1, 23, 0, 0, 0),
    );
    for t in &observed {
        let t: i64 = t.parse().unwrap();
        assert!((lo..hi).contains(&t), "observed_at {t}");
    }
    let nicknames = env.side_column("contacts", "nickname");
    let zhang: BTreeSet<&String> = users
        .iter()
        .zip(&nicknames)
        .filter(|(_, n)| n.as_str() == "张伟")
        .map(|(u, _)| u)
        .collect();
    assert_eq!(zhang.len(), 2, "two people named 张伟");

    // A rerun finds nothing new and changes nothing.
    let before = env.snapshot();
    let again = env.ingest(&[]);
    assert_eq!(
        (
            count(&again, "written"),
            count(&again, "contacts"),
            count(&again, "events")
        ),
        (0, 0, 0)
    );
    assert_eq!(env.snapshot(), before);
    env.run(&["verify"]).assert_code(0);
}

/// Every cell of every Parquet file under `parquet/`, as text.
fn every_cell(env: &TestEnv) -> Vec<String> {
    let mut cells = Vec::new();
    for table in ["contacts", "events"] {
        for column in match table {
            "contacts" => vec![
                "mobile",
                "custom_info",
                "extra_fields",
                "nickname",
                "signature",
            ],
            _ => vec!["data", "extra_fields"],
        } {
            cells.extend(env.side_column(table, column));
        }
    }
    for row in env.rows() {
        cells.extend(row.content);
        cells.extend(row.extra_fields);
    }
    cells
}

#[test]
fn masking_leaves_no_clear_mobile_or_custom_info_in_the_lake() {
    let env = TestEnv::new();
    generate(
        &env.data,
        &[
            "--envelope",
            "--days",
            "2",
            "--per-day",
            "300",
            "--seed",
            "3",
            "--start-date",
            "2026-02-01",
        ],
    );
    let o = oracle(&env);
    assert!(
        o.personal.len() > 3,
        "the generator sends mobiles and details: {:?}",
        o.personal
    );
    env.ingest(&["--mask", "mobile,custom_info"]);
    let cells = every_cell(&env);
    for secret in &o.personal {
        assert!(
            !cells.iter().any(|c| c.contains(secret.as_str())),
            "{secret} is stored unmasked"
        );
    }
    let mobiles = env.side_column("contacts", "mobile");
    assert!(mobiles.iter().any(|m| m.contains("****")), "{mobiles:?}");
    let meta: Value =
        serde_json::from_slice(&fs::read(env.data.join("metadata/lake.json")).unwrap()).unwrap();
    assert_eq!(
        meta["mask"],
        serde_json::json!({"mobile": true, "custom_info": true})
    );

    // Another setting is refused, naming the recorded one, and writes nothing.
    env.append_raw(
        "2026-02-02",
        &contact_update("late", "wxid_late", "迟到", None),
    );
    let before = env.snapshot();
    let run = env.run(&["ingest", "--mask", "none"]);
    run.assert_code(64);
    assert!(
        run.stderr.contains("--mask mobile,custom_info"),
        "{}",
        run.stderr
    );
    assert_eq!(env.snapshot(), before);
    // Without --mask the lake's setting applies.
    env.ingest(&[]);
    assert!(!every_cell(&env).iter().any(|c| c.contains("13812345678")));
}

#[test]
fn unmasked_by_default_and_names_come_from_contact_records() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 9, 0, 0);
    let mut text = contact_update("c1", "wxid_a", "王伟", None);
    text += &msg("1", t, "hello");
    text += &contact_update("c2", "wxid_a", "王伟2", Some("老王"));
    text += &envelope(
        "c3",
        1201,
        serde_json::json!({"userName": {"string": "wxid_b"}, "deleteContactScene": 0}),
    );
    text += &envelope("e1", 4242, serde_json::json!({"anything": [1, 2]}));
    env.append_raw("2026-01-20", &text);
    let v = env.ingest(&[]);
    assert_eq!(
        (
            count(&v, "contacts"),
            count(&v, "events"),
            count(&v, "written")
        ),
        (3, 1, 1)
    );
    assert_eq!(env.side_column("contacts", "mobile")[0], "13812345678");
    // Stamps: before any message the day's start, after one the message's time.
    assert_eq!(
        env.side_column("contacts", "observed_at"),
        [
            shanghai(2026, 1, 20, 0, 0, 0).to_string(),
            t.to_string(),
            t.to_string()
        ]
    );
    assert_eq!(env.side_column("contacts", "remark"), ["", "老王", ""]);
    assert_eq!(env.side_column("events", "data"), [r#"{"anything":[1,2]}"#]);
    assert_eq!(env.side_column("events", "notify_type"), ["4242"]);
    // The clock survives the checkpoint: a record appended later is stamped after the message.
    env.append_raw("2026-01-20", &contact_update("c4", "wxid_a", "王伟3", None));
    env.ingest(&[]);
    assert_eq!(
        env.side_column("contacts", "observed_at").last().unwrap(),
        &t.to_string()
    );
}

#[test]
fn the_collectors_own_lock_files_are_never_touched_or_reported() {
    let env = one_message_env();
    let lock_path = env.data.join("messages/raw/2026-01-20.lock");
    fs::write(&lock_path, b"").unwrap();
    // The collector holds its lock while appending: ingest must neither wait for it nor take it.
    let held = fs::File::open(&lock_path).unwrap();
    held.lock().unwrap();
    let before = fs::metadata(&lock_path).unwrap().modified().unwrap();
    env.ingest(&[]);
    for cmd in ["status", "verify"] {
        let run = env.run(&[cmd]);
        run.assert_code(0);
        assert!(
            !run.stdout.contains(".lock") || run.stdout.contains("wxlake.lock"),
            "{cmd}: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains("2026-01-20.lock"),
            "{cmd}: {}",
            run.stderr
        );
    }
    assert_eq!(
        fs::metadata(&lock_path).unwrap().modified().unwrap(),
        before
    );
    // Still ours: another process cannot take it, so wxlake did not release or steal it.
    let other = fs::File::open(&lock_path).unwrap();
    assert!(other.try_lock().is_err());
    drop(held);
}
