//! `wxlake verify`: a whole lake passes; each kind of damage is found, named by path, with
//! exit 65; verify itself changes nothing.

use std::fs;
use std::path::PathBuf;

use crate::common::*;

fn whole_lake() -> TestEnv {
    let env = TestEnv::new();
    for day in 20..=22u32 {
        let mut text = String::new();
        for i in 0..40 {
            text += &msg(
                &format!("{day}-{i}"),
                shanghai(2026, 1, day, 10, 0, 0) + i,
                "hi",
            );
        }
        env.append_raw(&format!("2026-01-{day}"), &text);
    }
    env.ingest(&[]);
    env
}

fn partition(env: &TestEnv, day: u32) -> PathBuf {
    env.data
        .join(format!("parquet/messages/year=2026/month=01/day={day}"))
}

fn first_file(env: &TestEnv, day: u32) -> PathBuf {
    env.layout()
        .partition_files(wxlake::partition::PartitionKey(
            chrono::NaiveDate::from_ymd_opt(2026, 1, day).unwrap(),
        ))
        .unwrap()
        .remove(0)
}

#[track_caller]
fn assert_found(env: &TestEnv, needle: &str, path_part: &str) {
    let snapshot = env.snapshot();
    let run = env.run(&["verify"]);
    run.assert_code(65);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no problem mentioning {needle:?}: {}", run.stdout));
    assert!(line.contains(path_part), "{line}");
    assert!(run.stderr.contains("not whole"), "{}", run.stderr);
    assert_eq!(env.snapshot(), snapshot, "verify changes nothing");
}

#[test]
fn a_whole_lake_passes() {
    let env = whole_lake();
    let run = env.run(&["verify"]);
    run.assert_code(0);
    assert!(run.stdout.contains("the lake is whole"), "{}", run.stdout);
    let v = env
        .run(&["verify", "--json", "--start", "2026-01-21"])
        .json();
    assert_eq!(
        (
            v["ok"].as_bool(),
            v["partitions"].as_u64(),
            v["rows"].as_u64()
        ),
        (Some(true), Some(2), Some(80))
    );
}

#[test]
fn a_duplicate_msg_id_is_found_with_both_places() {
    let env = whole_lake();
    let src = first_file(&env, 21);
    fs::copy(&src, partition(&env, 21).join("zz-copy.parquet")).unwrap();
    assert_found(&env, "is stored 2 times", "zz-copy.parquet");
}

#[test]
fn a_row_in_the_wrong_partition_is_found() {
    let env = whole_lake();
    let src = first_file(&env, 21);
    fs::rename(&src, partition(&env, 22).join("moved.parquet")).unwrap();
    assert_found(&env, "not in year=2026/month=01/day=22", "moved.parquet");
}

#[test]
fn corrupt_files_and_leftovers_are_found() {
    let env = whole_lake();
    let src = first_file(&env, 20);
    let bytes = fs::read(&src).unwrap();
    fs::write(&src, &bytes[..bytes.len() - 10]).unwrap();
    assert_found(&env, "Parquet", "day=20");

    let env = whole_lake();
    fs::write(env.data.join("parquet/.staging/.part-x.parquet.tmp"), b"x").unwrap();
    assert_found(&env, "interrupted run", ".staging");
    let env = whole_lake();
    fs::create_dir_all(env.data.join("metadata/journal")).unwrap();
    fs::write(
        env.data
            .join("metadata/journal/year=2026_month=01_day=20.json"),
        b"{}",
    )
    .unwrap();
    assert_found(&env, "interrupted run", "journal");
    let env = whole_lake();
    fs::write(partition(&env, 20).join("notes.txt"), b"x").unwrap();
    assert_found(&env, "not a data file", "notes.txt");
}

#[test]
fn a_raw_file_that_no_longer_matches_its_checkpoint_is_found() {
    let env = whole_lake();
    let raw = env.raw_path("2026-01-21");
    let mut bytes = fs::read(&raw).unwrap();
    bytes[20] ^= 1;
    fs::write(&raw, &bytes).unwrap();
    assert_found(&env, "fingerprint", "2026-01-21.jsonl");
    let env = whole_lake();
    fs::remove_file(env.raw_path("2026-01-22")).unwrap();
    assert_found(&env, "gone", "2026-01-22");
}
