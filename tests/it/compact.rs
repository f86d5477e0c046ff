//! `wxlake compact`: merging, idempotence, `--dry-run`, dedup repair, crash safety by failpoints
//! and `kill -9`, and readers running during a compaction.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use crate::common::*;

/// A lake of `days` partitions (from 2026-01-20), each with `rounds` files: every round appends
/// `per_round` messages per day and ingests them. Returns the msg_ids.
fn fragmented_lake(env: &TestEnv, days: u32, rounds: u32, per_round: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for round in 0..rounds {
        for day in 0..days {
            let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()
                + chrono::Days::new(day.into());
            let d = date.format("%Y-%m-%d").to_string();
            let start = shanghai(2026, 1, 20, 0, 0, 0) + i64::from(day) * 86_400;
            let mut text = String::new();
            for i in 0..per_round {
                let id = format!("{d}-{round}-{i}");
                let t = start + i64::from((i * 7919 + round * 104_729) % 86_400);
                text += &msg(
                    &id,
                    t,
                    &format!(
                        "round {round} message {i} {}",
                        "z".repeat((i % 5) as usize * 30)
                    ),
                );
                ids.push(id);
            }
            env.append_raw(&d, &text);
        }
        env.ingest(&[]);
    }
    ids
}

fn files_per_partition(env: &TestEnv) -> BTreeMap<String, usize> {
    let layout = env.layout();
    layout
        .partitions()
        .unwrap()
        .into_iter()
        .map(|k| (k.to_string(), layout.partition_files(k).unwrap().len()))
        .collect()
}

#[track_caller]
fn assert_each_once(env: &TestEnv, ids: &[String]) {
    let counts = env.id_counts();
    assert_eq!(counts.len(), ids.len(), "messages missing");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
}

#[test]
fn compact_merges_small_files_keeps_every_row_and_is_idempotent() {
    let env = TestEnv::new();
    let ids = fragmented_lake(&env, 3, 4, 150);
    let before = env.contents();
    assert!(files_per_partition(&env).values().all(|&n| n >= 4));

    let run = env.run(&["compact", "--json"]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(
        v["partitions"].as_array().unwrap().len(),
        v["plan"].as_array().unwrap().len()
    );
    assert_eq!(v["rows"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(v["duplicates_removed"], 0);
    assert!(v["files_after"].as_u64() < v["files_before"].as_u64());
    let p = &v["partitions"][0];
    for key in [
        "partition",
        "files_before",
        "files_after",
        "bytes_before",
        "bytes_after",
        "rows",
    ] {
        assert!(!p[key].is_null(), "{key} in {p}");
    }
    assert!(
        files_per_partition(&env).values().all(|&n| n == 1),
        "{:?}",
        files_per_partition(&env)
    );
    assert_eq!(
        env.contents(),
        before,
        "the same rows in the same partitions"
    );
    env.assert_no_leftovers();

    let snapshot = env.snapshot();
    let again = env.run(&["compact", "--json"]);
    again.assert_code(0);
    assert_eq!(again.json()["partitions"].as_array().unwrap().len(), 0);
    assert_eq!(env.snapshot(), snapshot, "a compact lake is not rewritten");

    // Files keep the lake's layout rules: sorted by (chatroom, create_time), Snappy, readable.
    let count = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--end",
        "2026-01-22",
        "--count",
    ]);
    assert_eq!(count.stdout.trim(), ids.len().to_string());
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = TestEnv::new();
    fragmented_lake(&env, 2, 3, 50);
    let snapshot = env.snapshot();
    let run = env.run(&["compact", "--dry-run"]);
    run.assert_code(0);
    assert!(run.stdout.contains("would be rewritten"), "{}", run.stdout);
    assert!(
        run.stdout.contains("year=2026/month=01/day=20"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("3 files"), "{}", run.stdout);
    let json = env.run(&["compact", "--dry-run", "--json"]).json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["plan"][0]["output_files"], 1);
    assert!(
        json["plan"][0]["partition"].is_null(),
        "the plan names partitions by key"
    );
    assert_eq!(json["plan"][0]["key"], "2026-01-20");
    let mut after = env.snapshot();
    after.retain(|p, _| {
        !p.starts_with(env.data.join("metadata/journal"))
            && !p.starts_with(env.data.join("parquet/.swap"))
    });
    assert_eq!(after, snapshot);
}

#[test]
fn duplicates_that_slipped_in_are_removed_and_ranges_limit_the_work() {
    let env = TestEnv::new();
    let ids = fragmented_lake(&env, 3, 2, 80);
    let dir = env.data.join("parquet/messages/year=2026/month=01/day=21");
    let first: PathBuf = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    fs::copy(&first, dir.join("zz-copied-by-hand.parquet")).unwrap();
    assert!(env.id_counts().values().any(|&n| n == 2));

    let v = env
        .run(&[
            "compact",
            "--start",
            "2026-01-21",
            "--end",
            "2026-01-21",
            "--json",
        ])
        .json();
    assert_eq!(v["partitions"].as_array().unwrap().len(), 1);
    assert_eq!(v["partitions"][0]["duplicates_removed"], 80);
    assert_each_once(&env, &ids);
    let files = files_per_partition(&env);
    assert_eq!(files["year=2026/month=01/day=21"], 1);
    assert_eq!(
        files["year=2026/month=01/day=20"], 2,
        "outside the range: untouched"
    );

    let bad = env.run(&["compact", "--start", "2026-01-22", "--end", "2026-01-21"]);
    bad.assert_code(64);
    let bad = env.run(&["compact", "--target-file-size", "lots"]);
    bad.assert_code(64);
}

#[test]
fn a_partition_with_a_newer_schema_file_is_left_alone() {
    let env = TestEnv::new();
    fragmented_lake(&env, 1, 2, 20);
    let dir = env.data.join("parquet/messages/year=2026/month=01/day=20");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema/newer-extra-column.parquet");
    fs::copy(fixture, dir.join("newer.parquet")).unwrap();
    let snapshot = env.snapshot();
    let run = env.run(&["compact"]);
    run.assert_code(0);
    assert!(run.stderr.contains("reply_to"), "{}", run.stderr);
    assert_eq!(env.snapshot(), snapshot);
}

#[test]
fn every_failpoint_in_the_swap_is_recovered_exactly_once() {
    for fp in [
        "compact.staged",
        "journal.before_rename",
        "compact.journaled",
        "compact.swapped",
        "compact.cleaned",
    ] {
        let env = TestEnv::new();
        let ids = fragmented_lake(&env, 2, 3, 60);
        let before = env.contents();
        let run: Run = env
            .command()
            .arg("compact")
            .env("WXLAKE_FAILPOINTS", fp)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, None, "{fp}: must die there: {run:?}");
        // Even before any recovery, a reader sees every message once.
        assert_each_once(&env, &ids);
        assert_eq!(env.contents(), before, "{fp}");
        let v = env.run(&["compact", "--json"]);
        v.assert_code(0);
        let v = v.json();
        if fp != "compact.staged" && fp != "journal.before_rename" {
            // Two workers may both have been inside a swap.
            let recovered = v["recovered"].as_array().unwrap().len();
            assert!((1..=2).contains(&recovered), "{fp}: {v}");
        }
        assert_each_once(&env, &ids);
        assert_eq!(env.contents(), before, "{fp}");
        assert!(files_per_partition(&env).values().all(|&n| n == 1), "{fp}");
        env.assert_no_leftovers();
    }
}

#[test]
fn kill_9_during_compaction_never_loses_or_doubles_a_message() {
    let env = TestEnv::new();
    let mut ids = fragmented_lake(&env, 4, 3, 200);
    let probe = TestEnv::new();
    fragmented_lake(&probe, 4, 3, 200);
    let full = window_ms(20, || {
        probe.run(&["compact"]).assert_code(0);
    });
    let mut rng = TestRng::from_env(0x2545_f491_4f6c_dd1d);
    let mut killed = 0;
    for round in 0..8u32 {
        killed += u32::from(kill_at_random(
            env.command().args(["-q", "compact"]),
            &mut rng,
            full,
        ));
        assert_each_once(&env, &ids);
        // More small files for the next round to compact.
        let more = fragmented_lake_round(&env, round);
        ids.extend(more);
    }
    assert!(
        killed > 0,
        "no compaction was interrupted; the test proved nothing"
    );
    env.run(&["compact"]).assert_code(0);
    assert_each_once(&env, &ids);
    env.assert_no_leftovers();
    env.run(&["verify"]).assert_code(0);
}

/// One more ingest round of 100 messages into each of the four days of the kill test.
fn fragmented_lake_round(env: &TestEnv, round: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for day in 20..24u32 {
        let mut text = String::new();
        for i in 0..100 {
            let id = format!("extra-{round}-{day}-{i}");
            text += &msg(
                &id,
                shanghai(2026, 1, day, 10, 0, 0) + i64::from(i),
                "extra",
            );
            ids.push(id);
        }
        env.append_raw(&format!("2026-01-{day}"), &text);
    }
    env.ingest(&[]);
    ids
}

#[test]
fn queries_during_a_compaction_always_see_every_message_once() {
    let env = TestEnv::new();
    let ids = fragmented_lake(&env, 6, 5, 120);
    let expected = ids.len().to_string();
    let mut compact = env.command().args(["-q", "compact"]).spawn().unwrap();
    let mut during = 0;
    loop {
        let running = compact.try_wait().unwrap().is_none();
        let run = env.run(&[
            "query",
            "--start",
            "2026-01-20",
            "--end",
            "2026-01-25",
            "--count",
        ]);
        run.assert_code(0);
        assert_eq!(
            run.stdout.trim(),
            expected,
            "a query saw a different count: {run:?}"
        );
        let ids_run = env.run(&[
            "query",
            "--start",
            "2026-01-20",
            "--end",
            "2026-01-25",
            "--format",
            "csv",
            "--columns",
            "msg_id",
        ]);
        ids_run.assert_code(0);
        let lines: Vec<&str> = ids_run.stdout.lines().skip(1).collect();
        let distinct: std::collections::BTreeSet<&str> = lines.iter().copied().collect();
        assert_eq!((lines.len(), distinct.len()), (ids.len(), ids.len()));
        if !running {
            break;
        }
        during += 1;
    }
    assert!(compact.wait().unwrap().success());
    assert!(during > 0, "no query ran during the compaction");
    assert!(files_per_partition(&env).values().all(|&n| n == 1));
}

#[test]
fn a_held_lock_stops_compact_with_75() {
    let env = TestEnv::new();
    fragmented_lake(&env, 1, 2, 10);
    let _held = wxlake::lock::LakeLock::acquire(&env.layout().lock_path(), "test", None).unwrap();
    let run = env.run(&["compact"]);
    run.assert_code(75);
    assert!(run.stderr.contains("wxlake.lock"), "{}", run.stderr);
    let nowhere = TestEnv::new();
    nowhere.run(&["compact"]).assert_code(64);
}
