//! `wxlake archive`: tiers by age with the codec and level checked in the files themselves, rows
//! unchanged, idempotence, `--dry-run`, raw retention (and what it must not touch), a rebuild
//! from archived raw files, and crash safety by failpoints and `kill -9`.

use std::collections::BTreeMap;
use std::fs;

use chrono::{Days, TimeZone};
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common::*;

/// Raw files for days `ages` (in days before today), `per_day` messages each, ingested.
fn aged_lake(env: &TestEnv, ages: &[u64], per_day: u32) -> Vec<String> {
    let today = today_shanghai();
    let mut ids = Vec::new();
    for &age in ages {
        let date = today - Days::new(age);
        let d = date.format("%Y-%m-%d").to_string();
        let start = SHANGHAI
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .timestamp();
        let mut text = String::new();
        for i in 0..per_day {
            let id = format!("{d}-{i}");
            text += &msg(
                &id,
                start + i64::from(i) * 37,
                &format!("message {i} of {d} {}", "abc ".repeat((i % 9) as usize)),
            );
            ids.push(id);
        }
        env.append_raw(&d, &text);
    }
    env.ingest(&[]);
    ids
}

/// partition → (codec from the wxlake metadata, Parquet compression of the column chunks).
fn codecs(env: &TestEnv) -> BTreeMap<String, Vec<(String, String)>> {
    let layout = env.layout();
    let mut out = BTreeMap::new();
    for key in layout.partitions().unwrap() {
        let mut files = Vec::new();
        for path in layout.partition_files(key).unwrap() {
            let info = wxlake::lake::footer::read_footer(&path).unwrap();
            let reader = SerializedFileReader::new(fs::File::open(&path).unwrap()).unwrap();
            let compressions: Vec<Compression> = reader
                .metadata()
                .row_groups()
                .iter()
                .flat_map(|rg| rg.columns().iter().map(|c| c.compression()))
                .collect();
            let parquet = match compressions[0] {
                Compression::ZSTD(_) => "ZSTD",
                Compression::SNAPPY => "SNAPPY",
                _ => "OTHER",
            };
            assert!(
                compressions
                    .iter()
                    .all(|c| std::mem::discriminant(c) == std::mem::discriminant(&compressions[0]))
            );
            files.push((info.codec.to_string(), parquet.to_string()));
        }
        out.insert(key.date().to_string(), files);
    }
    out
}

fn day(age: u64) -> String {
    (today_shanghai() - Days::new(age)).to_string()
}

#[test]
fn partitions_are_recompressed_by_tier_and_rows_do_not_change() {
    let env = TestEnv::new();
    aged_lake(&env, &[1, 10, 100], 300);
    let before = env.contents();
    let run = env.run(&["archive", "--json"]);
    run.assert_code(0);
    let v = run.json();
    let c = codecs(&env);
    assert!(
        c[&day(1)]
            .iter()
            .all(|(w, p)| w == "snappy" && p == "SNAPPY"),
        "{c:?}"
    );
    assert!(
        c[&day(10)]
            .iter()
            .all(|(w, p)| w == "zstd(3)" && p == "ZSTD"),
        "{c:?}"
    );
    assert!(
        c[&day(100)]
            .iter()
            .all(|(w, p)| w == "zstd(19)" && p == "ZSTD"),
        "{c:?}"
    );
    assert_eq!(env.contents(), before);
    assert_eq!(v["partitions"].as_array().unwrap().len(), 2, "{v}");
    let tiers = v["tiers"].as_array().unwrap();
    let cold = tiers.iter().find(|t| t["tier"] == "cold").unwrap();
    assert_eq!(cold["rewritten"], 1);
    assert!(cold["bytes_saved"].as_i64().unwrap() > 0, "{cold}");
    assert!(v["compression_ratio"].as_f64().unwrap() > 1.0, "{v}");
    assert!(v["raw_jsonl_bytes"].as_u64().unwrap() > 0);

    // Nothing left to do: a second run changes nothing.
    let snapshot = env.snapshot();
    let again = env.run(&["archive", "--json"]).json();
    assert_eq!(again["plan"].as_array().unwrap().len(), 0);
    let mut after = env.snapshot();
    after.retain(|p, _| snapshot.contains_key(p));
    assert_eq!(after.len(), snapshot.len());
    // Readers are served the same rows.
    let count = env.run(&["query", "--start", &day(100), "--end", &day(1), "--count"]);
    assert_eq!(count.stdout.trim(), "900");
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = TestEnv::new();
    aged_lake(&env, &[1, 10, 100], 50);
    let snapshot = env.snapshot();
    let raw_before = raw_bytes(&env);
    let run = env.run(&["archive", "--dry-run"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("would recompress 2 partitions"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("would archive"), "{}", run.stdout);
    let mut after = env.snapshot();
    after.retain(|p, _| {
        !p.starts_with(env.data.join("metadata/journal"))
            && !p.starts_with(env.data.join("parquet/.swap"))
    });
    assert_eq!(after, snapshot);
    assert_eq!(raw_bytes(&env), raw_before);
}

#[test]
fn raw_retention_archives_only_fully_ingested_files_and_verifies_them() {
    let env = TestEnv::new();
    aged_lake(&env, &[1, 10, 100], 100);
    let old = env.raw_path(&day(100));
    let original = fs::read(&old).unwrap();
    // Appended after its ingest: not fully ingested, must be kept.
    env.append_raw(&day(10), &msg("late-line", 1_700_000_000, "appended later"));
    // Never ingested at all.
    let never = day(30);
    env.append_raw(&never, &msg("never-ingested", 1_700_000_100, "x"));

    let v = env.run(&["archive", "--json"]).json();
    let archived: Vec<&str> = v["raw_archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(archived, [format!("{}.jsonl", day(100))]);
    let kept: BTreeMap<String, String> = v["raw_kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["file"].as_str().unwrap().to_string(),
                k["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kept[&format!("{}.jsonl", day(10))].contains("not fully ingested"),
        "{kept:?}"
    );
    assert!(
        kept[&format!("{never}.jsonl")].contains("never ingested"),
        "{kept:?}"
    );
    assert!(!old.exists(), "the archived original is removed");
    assert!(
        env.raw_path(&day(1)).exists(),
        "within retention: untouched"
    );
    assert!(env.raw_path(&day(10)).exists() && env.raw_path(&never).exists());
    let zst = env
        .data
        .join(format!("messages/raw/archive/{}.jsonl.zst", day(100)));
    let decoded = zstd::decode_all(fs::File::open(&zst).unwrap()).unwrap();
    assert_eq!(decoded, original, "the archive holds the original bytes");

    // An ingest afterwards does not read the archive again.
    assert_eq!(
        env.ingest(&[])["files"]
            .as_object()
            .unwrap()
            .get(&format!("{}.jsonl", day(100))),
        None
    );
}

#[test]
fn a_lost_lake_is_rebuilt_from_archived_raw_files() {
    let env = TestEnv::new();
    let ids = aged_lake(&env, &[20, 40], 200);
    env.run(&["archive", "--raw-retention", "10d"])
        .assert_code(0);
    assert!(!env.raw_path(&day(20)).exists());
    let before = env.contents();
    // Disaster: the lake and the checkpoints are gone; the archives remain.
    fs::remove_dir_all(env.data.join("parquet")).unwrap();
    fs::rename(
        env.data.join("metadata/checkpoints"),
        env.data.join("checkpoints.lost"),
    )
    .unwrap();
    let v = env.ingest(&[]);
    assert_eq!(v["written"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(env.contents(), before);
    assert!(
        fs::read_dir(env.data.join("parquet/.staging"))
            .unwrap()
            .next()
            .is_none(),
        "restored copies are removed"
    );
    assert_eq!(env.ingest(&[])["written"], 0);
}

#[track_caller]
fn assert_whole(env: &TestEnv, ids: &[String], raw: &BTreeMap<String, Vec<u8>>) {
    let counts = env.id_counts();
    assert_eq!(counts.len(), ids.len(), "messages missing");
    assert!(counts.values().all(|&n| n == 1), "a message stored twice");
    // Every raw file is either still there, intact, or in the archive, intact.
    for (name, bytes) in raw {
        let plain = env.data.join("messages/raw").join(name);
        let zst = env
            .data
            .join("messages/raw/archive")
            .join(format!("{name}.zst"));
        if plain.exists() {
            assert_eq!(&fs::read(&plain).unwrap(), bytes, "{name} changed");
        } else {
            let decoded = zstd::decode_all(fs::File::open(&zst).unwrap()).unwrap();
            assert_eq!(&decoded, bytes, "{name}: archive differs");
        }
    }
}

fn raw_bytes(env: &TestEnv) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(env.data.join("messages/raw"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_failpoint_is_recovered_with_each_message_once_and_raw_files_intact() {
    for fp in [
        "archive.staged",
        "archive.journaled",
        "archive.swapped",
        "archive.cleaned",
        "archive_raw.written",
        "archive_raw.renamed",
    ] {
        let env = TestEnv::new();
        let ids = aged_lake(&env, &[10, 100], 150);
        let raw = raw_bytes(&env);
        let before = env.contents();
        let run: Run = env
            .command()
            .arg("archive")
            .env("WXLAKE_FAILPOINTS", fp)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, None, "{fp}: must die there: {run:?}");
        assert_whole(&env, &ids, &raw);
        env.run(&["archive"]).assert_code(0);
        assert_whole(&env, &ids, &raw);
        assert_eq!(env.contents(), before, "{fp}");
        let c = codecs(&env);
        assert!(
            c[&day(100)].iter().all(|(w, _)| w == "zstd(19)"),
            "{fp}: {c:?}"
        );
        assert!(
            !env.raw_path(&day(100)).exists(),
            "{fp}: archived in the end"
        );
        env.assert_no_leftovers();
    }
}

#[test]
fn kill_9_during_archive_never_loses_a_message_or_a_raw_byte() {
    let env = TestEnv::new();
    let mut ids = aged_lake(&env, &[8, 95], 250);
    let mut raw = raw_bytes(&env);
    // How long archiving two partitions (one warm, one cold) and two raw files takes.
    let probe = TestEnv::new();
    aged_lake(&probe, &[8, 95], 250);
    let window = window_ms(20, || {
        probe.run(&["archive"]).assert_code(0);
    });
    let mut rng = TestRng::from_env(0x9e37_79b9_7f4a_7c15);
    let mut killed = 0;
    for round in 0..8u64 {
        killed += u32::from(kill_at_random(
            env.command().args(["-q", "archive"]),
            &mut rng,
            window,
        ));
        assert_whole(&env, &ids, &raw);
        // New old days, so that every round has work to be killed in.
        ids.extend(aged_lake(&env, &[20 + round, 120 + round], 250));
        raw.extend(raw_bytes(&env));
    }
    assert!(
        killed > 0,
        "no archive run was interrupted; the test proved nothing"
    );
    eprintln!("{killed} of 8 archive runs killed");
    env.run(&["archive"]).assert_code(0);
    assert_whole(&env, &ids, &raw);
    env.assert_no_leftovers();
    env.run(&["verify"]).assert_code(0);
}

#[test]
fn bad_tier_settings_are_usage_errors() {
    let env = TestEnv::new();
    aged_lake(&env, &[1], 5);
    for args in [
        vec!["archive", "--warm-after", "30d", "--cold-after", "7d"],
        vec!["archive", "--raw-retention", "0d"],
        vec!["archive", "--cold-level", "23"],
        vec!["archive", "--warm-after", "soon"],
    ] {
        let run = env.run(&args);
        run.assert_code(64);
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn queries_during_an_archive_always_see_every_message_once() {
    let env = TestEnv::new();
    let ids = aged_lake(&env, &[8, 9, 10, 11, 95, 96, 97, 98], 200);
    let (from, to) = (day(98), day(8));
    let expected = ids.len().to_string();
    let mut child = env.command().args(["-q", "archive"]).spawn().unwrap();
    let mut during = 0;
    loop {
        let running = child.try_wait().unwrap().is_none();
        let run = env.run(&["query", "--start", &from, "--end", &to, "--count"]);
        run.assert_code(0);
        assert_eq!(run.stdout.trim(), expected, "{run:?}");
        if !running {
            break;
        }
        during += 1;
    }
    assert!(child.wait().unwrap().success());
    assert!(during > 0, "no query ran during the archive");
}
