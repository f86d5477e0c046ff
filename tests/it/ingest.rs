//! `wxlake ingest` end to end.

use std::fs;

use crate::common::*;

#[test]
fn ingest_then_rerun_changes_nothing() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "a"));
    env.append_raw(
        "2026-01-20",
        &msg("2", shanghai(2026, 1, 20, 10, 0, 0), "b"),
    );
    env.append_raw(
        "2026-01-21",
        &msg("3", shanghai(2026, 1, 21, 10, 0, 0), "c"),
    );
    let v = env.ingest(&[]);
    assert_eq!(v["written"], 3);
    assert_eq!(v["partitions"], 2);
    assert_eq!(v["files"]["2026-01-20.jsonl"]["written"], 2);
    assert_eq!(v["files"]["2026-01-21.jsonl"]["status"], "complete");
    assert!(v["bytes_written"].as_u64().unwrap() > 0);
    let before = env.snapshot();

    let again = env.ingest(&[]);
    assert_eq!(again["lines_read"], 0);
    assert_eq!(again["written"], 0);
    assert_eq!(again["files"].as_object().unwrap().len(), 0);
    assert_eq!(
        env.snapshot(),
        before,
        "a rerun must not change the lake or metadata"
    );
    assert_eq!(env.id_counts().len(), 3);

    let text = env.run(&["ingest"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("nothing new to ingest"),
        "{}",
        text.stdout
    );
}

#[test]
fn appended_lines_are_the_only_ones_read() {
    let env = TestEnv::new();
    let first = msg("1", shanghai(2026, 1, 20, 9, 0, 0), "a");
    env.append_raw("2026-01-20", &first);
    env.ingest(&[]);
    let more = msg("2", shanghai(2026, 1, 20, 9, 1, 0), "b")
        + &msg("3", shanghai(2026, 1, 20, 9, 2, 0), "c");
    env.append_raw("2026-01-20", &more);
    let v = env.ingest(&[]);
    assert_eq!(v["lines_read"], 2);
    assert_eq!(v["written"], 2);
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["bytes_read"], more.len() as u64);
    let cp: serde_json::Value = serde_json::from_slice(
        &fs::read(env.data.join("metadata/checkpoints/2026-01-20.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cp["offset"], (first.len() + more.len()) as u64);
    assert_eq!(cp["line"], 3);
    assert_eq!(cp["last_msg_id"], "3");
    assert_eq!(
        cp["counts"]["written"], 3,
        "checkpoint counts are cumulative"
    );
    assert_eq!(env.id_counts().values().sum::<usize>(), 3);
}

#[test]
fn shanghai_midnight_splits_partitions() {
    let env = TestEnv::new();
    env.append_raw(
        "2026-01-22",
        &msg("late", shanghai(2026, 1, 21, 23, 59, 59), "x"),
    );
    env.append_raw(
        "2026-01-22",
        &msg("early", shanghai(2026, 1, 22, 0, 0, 0), "y"),
    );
    env.ingest(&[]);
    let rows = env.rows();
    let part = |id: &str| {
        rows.iter()
            .find(|r| r.msg_id == id)
            .unwrap()
            .partition
            .clone()
    };
    assert_eq!(part("late"), "year=2026/month=01/day=21");
    assert_eq!(part("early"), "year=2026/month=01/day=22");
    assert!(
        env.data
            .join("parquet/messages/year=2026/month=01/day=21")
            .is_dir()
    );
}

#[test]
fn msg_id_above_2_pow_63_is_kept_exactly_and_matches_its_string_form() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 12, 0, 0);
    env.append_raw(
        "2026-01-20",
        &format!("{{\"msg_id\":12345678901234567891,\"create_time\":{t}}}\n"),
    );
    env.append_raw(
        "2026-01-20",
        &format!("{{\"msg_id\":\"12345678901234567891\",\"create_time\":{t}}}\n"),
    );
    env.append_raw(
        "2026-01-20",
        &format!("{{\"msg_id\":12345678901234567892,\"create_time\":{t}}}\n"),
    );
    let v = env.ingest(&[]);
    assert_eq!(v["written"], 2);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["conflicting_duplicates"], 0);
    let ids: Vec<String> = env.id_counts().into_keys().collect();
    assert_eq!(ids, ["12345678901234567891", "12345678901234567892"]);
}

#[test]
fn a_lake_written_under_one_time_zone_is_refused_under_another() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "a"));
    env.ingest(&["--timezone", "UTC"]);
    env.append_raw("2026-01-20", &msg("2", shanghai(2026, 1, 20, 9, 5, 0), "b"));
    let before = env.snapshot();
    let run = env.run(&["--timezone", "Asia/Shanghai", "ingest"]);
    run.assert_code(64);
    assert!(run.stderr.contains("time zone UTC"), "{}", run.stderr);
    assert!(run.stderr.contains("--timezone UTC"), "{}", run.stderr);
    assert_eq!(env.snapshot(), before, "a refused run writes nothing");
    // Without --timezone the lake's own zone is used.
    assert_eq!(env.ingest(&[])["written"], 1);
    assert_eq!(env.rows().len(), 2);
}

#[test]
fn todays_unterminated_last_line_waits_for_the_next_run() {
    let env = TestEnv::new();
    let today = today_shanghai().format("%Y-%m-%d").to_string();
    let now = chrono::Utc::now().timestamp();
    env.append_raw(&today, &msg("1", now, "done"));
    env.append_raw(&today, r#"{"msg_id":"2","create_time":"#);
    let v = env.ingest(&["--date", "today"]);
    assert_eq!(v["written"], 1);
    assert_eq!(v["lines_read"], 1);
    assert_eq!(v["files"][format!("{today}.jsonl")]["status"], "partial");
    assert!(
        v["files"][format!("{today}.jsonl")]["held_back_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    env.append_raw(&today, &format!("{now},\"content\":\"finished\"}}\n"));
    let v = env.ingest(&["--date", "today"]);
    assert_eq!(v["lines_read"], 1);
    assert_eq!(v["written"], 1);
    assert_eq!(v["rejected"], 0);

    // In an earlier day's file that has settled, the same unterminated line is complete.
    env.append_raw("2026-01-20", &msg("3", shanghai(2026, 1, 20, 9, 0, 0), "x"));
    env.append_raw(
        "2026-01-20",
        msg("4", shanghai(2026, 1, 20, 9, 0, 0), "y").trim_end(),
    );
    let v = env.ingest(&["--settle-time", "0s"]);
    assert_eq!(v["files"]["2026-01-20.jsonl"]["written"], 2);
    assert_eq!(v["files"]["2026-01-20.jsonl"]["status"], "complete");
}

#[test]
fn date_selects_that_file_and_earlier_unfinished_ones() {
    let env = TestEnv::new();
    for (i, d) in ["2026-01-18", "2026-01-19", "2026-01-20", "2026-01-21"]
        .iter()
        .enumerate()
    {
        env.append_raw(
            d,
            &msg(
                &i.to_string(),
                shanghai(2026, 1, 18 + i as u32, 9, 0, 0),
                "x",
            ),
        );
    }
    let v = env.ingest(&["--date", "2026-01-20"]);
    let files: Vec<&String> = v["files"].as_object().unwrap().keys().collect();
    assert_eq!(
        files,
        ["2026-01-18.jsonl", "2026-01-19.jsonl", "2026-01-20.jsonl"]
    );
    let v = env.ingest(&["--date", "2026-01-21"]);
    let files: Vec<&String> = v["files"].as_object().unwrap().keys().collect();
    assert_eq!(files, ["2026-01-21.jsonl"]);
    // A date without a raw file is not an error.
    env.ingest(&["--date", "2026-02-01"]);
}

#[test]
fn input_contract_end_to_end() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 8, 0, 0);
    let mut raw = Vec::new();
    raw.extend_from_slice(b"\xEF\xBB\xBF");
    raw.extend_from_slice(format!("{{\"msg_id\":1,\"create_time\":{t}}}\r\n").as_bytes());
    raw.extend_from_slice(b"\n   \n");
    raw.extend_from_slice(
        format!(
            "{{\"msg_id\":2,\"create_time\":\"{}\",\"msg_type\":\"abc\",\"k\":[1, 2.50]}}\n",
            t * 1000
        )
        .as_bytes(),
    );
    raw.extend_from_slice(
        format!("{{\"msg_id\":3,\"create_time\":{t},\"content\":\"cut \\ud83d\"}}\n").as_bytes(),
    );
    raw.extend_from_slice(b"[1,2]\n");
    raw.extend_from_slice(b"{\"msg_id\":4,\"cre\n");
    raw.extend_from_slice(format!("{{\"msg_id\":5,\"create_time\":{t},\"content\":\"").as_bytes());
    raw.extend_from_slice(b"\xff\"}\n");
    raw.extend_from_slice(b"{\"create_time\":1}\n");
    raw.extend_from_slice(
        format!("{{\"msg_id\":6,\"create_time\":{t}}} {{\"msg_id\":7,\"create_time\":{t}}}\n")
            .as_bytes(),
    );
    raw.extend_from_slice(
        format!("{{\"msg_id\":1,\"create_time\":{t},\"content\":\"changed\"}}\n").as_bytes(),
    );
    env.append_raw_bytes("2026-01-20", &raw);
    let v = env.ingest(&[]);
    assert_eq!(v["lines_read"], 11);
    assert_eq!(v["blank"], 2);
    assert_eq!(v["written"], 3);
    assert_eq!(v["rejected"], 5);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["conflicting_duplicates"], 1);
    assert_eq!(v["type_conflicts"], 1);
    assert_eq!(v["repaired"], 1);

    let rows = env.rows();
    let row = |id: &str| rows.iter().find(|r| r.msg_id == id).unwrap().clone();
    assert_eq!(row("1").content, None, "the first copy wins");
    assert_eq!(row("2").create_time, t, "milliseconds are converted");
    assert_eq!(
        row("2").extra_fields.as_deref(),
        Some(r#"{"msg_type":"abc","k":[1,2.50]}"#)
    );
    assert_eq!(row("3").content.as_deref(), Some("cut \u{fffd}"));

    let rejects = env.rejects();
    let codes: Vec<&str> = rejects
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "not_an_object",
            "invalid_json",
            "invalid_utf8",
            "missing_field",
            "trailing_data"
        ]
    );
    let lines: Vec<u64> = rejects
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 7, 8, 9, 10]);
    for r in &rejects {
        assert_eq!(r["raw_file"], "2026-01-20.jsonl");
        let offset = r["offset"].as_u64().unwrap() as usize;
        let original: Vec<u8> = match r.get("raw") {
            Some(text) => text.as_str().unwrap().as_bytes().to_vec(),
            None => decode_base64(r["raw_base64"].as_str().unwrap()),
        };
        assert_eq!(
            &raw[offset..offset + original.len()],
            &original[..],
            "quarantine keeps the exact bytes"
        );
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | alphabet.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn a_replaced_raw_file_is_read_again_and_dedup_keeps_it_exactly_once() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 8, 0, 0);
    env.append_raw(
        "2026-01-20",
        &(msg("1", t, "a") + &msg("2", t, "b") + &msg("3", t, "c")),
    );
    env.ingest(&[]);
    fs::write(
        env.raw_path("2026-01-20"),
        msg("2", t, "b") + &msg("4", t, "d"),
    )
    .unwrap();
    let run = env.run(&["ingest", "--json"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("changed since its checkpoint"),
        "{}",
        run.stderr
    );
    let v = run.json();
    assert_eq!(v["files"]["2026-01-20.jsonl"]["reprocessed"], true);
    assert_eq!(v["written"], 1);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["conflicting_duplicates"], 0);
    assert_eq!(env.id_counts().into_iter().collect::<Vec<_>>().len(), 4);
    assert!(env.id_counts().values().all(|&n| n == 1));
}

#[test]
fn a_stored_duplicate_with_other_fields_is_counted_as_conflicting() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 8, 0, 0);
    env.append_raw("2026-01-20", &msg("1", t, "original"));
    env.ingest(&[]);
    env.append_raw(
        "2026-01-20",
        &(msg("1", t, "original") + &msg("1", t, "edited")),
    );
    let run = env.run(&["ingest", "--json"]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["duplicates"], 2);
    assert_eq!(v["conflicting_duplicates"], 1);
    // One summary line, with where to look.
    assert!(
        run.stderr.contains("1 conflicting duplicate (")
            && run.stderr.contains("2026-01-20.jsonl line 3 (msg_id 1)"),
        "{}",
        run.stderr
    );
    assert_eq!(env.rows()[0].content.as_deref(), Some("original"));
}

#[test]
fn bad_arguments_are_refused_and_write_nothing() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 8, 0, 0), "a"));
    for (args, needle) in [
        (vec!["ingest", "--date", "2026-13-01"], "--date"),
        (vec!["ingest", "--date", "../x"], "--date"),
        (vec!["--timezone", "Mars/Base", "ingest"], "Mars/Base"),
        (vec!["ingest", "--wait", "soon"], "--wait"),
        (vec!["ingest", "--bogus"], "--bogus"),
    ] {
        let run = env.run(&args);
        run.assert_code(64);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    assert!(env.snapshot().is_empty(), "{:?}", env.snapshot());

    let run = std::process::Command::new(env!("CARGO_BIN_EXE_wxlake"))
        .args(["--data-dir", "/nonexistent/wx", "ingest"])
        .output()
        .unwrap();
    let run = Run::from(run);
    run.assert_code(64);
    assert!(run.stderr.contains("/nonexistent/wx"), "{}", run.stderr);
}

#[test]
fn an_unwritable_lake_is_an_io_error_that_leaves_raw_data_alone() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 8, 0, 0), "a"));
    // A file where the lake directory must be: no permission trick that root could bypass.
    fs::write(env.data.join("parquet"), "not a directory").unwrap();
    let run = env.run(&["ingest"]);
    run.assert_code(74);
    assert!(run.stderr.contains("parquet"), "{}", run.stderr);
    assert!(!env.data.join("metadata/checkpoints").exists());
    fs::remove_file(env.data.join("parquet")).unwrap();
    assert_eq!(env.ingest(&[])["written"], 1);
}

#[test]
fn a_held_lock_gives_exit_75_naming_the_lock_file() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 8, 0, 0), "a"));
    fs::create_dir_all(env.data.join("metadata")).unwrap();
    let lock_path = env.layout().lock_path();
    let lock = wxlake::lock::LakeLock::acquire(&lock_path, "test", None).unwrap();
    let run = env.run(&["ingest"]);
    run.assert_code(75);
    assert!(
        run.stderr.contains("wxlake.lock") && run.stderr.contains("--wait"),
        "{}",
        run.stderr
    );
    let run = env.run(&["ingest", "--wait", "300ms"]);
    run.assert_code(75);

    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
    });
    env.ingest(&["--wait", "30s"]);
    release.join().unwrap();
    assert!(lock_path.exists(), "the lock file is never deleted");
    assert_eq!(env.rows().len(), 1);
}

#[test]
fn two_ingests_at_once_leave_the_lake_intact() {
    let env = TestEnv::new();
    let mut expected = 0;
    for day in 1..=3u32 {
        let mut text = String::new();
        for i in 0..2000 {
            text += &msg(
                &format!("{day}{i:05}"),
                shanghai(2026, 1, day, 8, 0, 0) + i,
                "x",
            );
            expected += 1;
        }
        env.append_raw(&format!("2026-01-0{day}"), &text);
    }
    let a = env.command().args(["ingest", "--json"]).spawn().unwrap();
    let b = env.command().args(["ingest", "--json"]).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    assert!(codes.contains(&0), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 0 || *c == 75), "{codes:?}");
    env.ingest(&[]);
    let counts = env.id_counts();
    assert_eq!(counts.len(), expected);
    assert!(counts.values().all(|&n| n == 1));

    // With --wait both succeed, one after the other.
    env.append_raw(
        "2026-01-03",
        &msg("late", shanghai(2026, 1, 3, 9, 0, 0), "x"),
    );
    let a = env
        .command()
        .args(["ingest", "--wait", "1m"])
        .output()
        .unwrap();
    let b = env
        .command()
        .args(["ingest", "--wait", "1m"])
        .output()
        .unwrap();
    assert!(a.status.success() && b.status.success());
    assert_eq!(env.id_counts().len(), expected + 1);
}

#[test]
fn a_replaced_raw_file_quarantines_its_bad_lines_once() {
    // Regression: the old quarantine was kept and the same bad lines were appended again.
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 8, 0, 0);
    let content = msg("1", t, "a") + "{\"msg_id\": broken\n" + &msg("2", t, "b");
    env.append_raw("2026-01-20", &content);
    env.ingest(&[]);
    // The collector rewrote the file: same bad line, one message changed, one added.
    let replaced =
        msg("1", t, "a") + "{\"msg_id\": broken\n" + &msg("2", t, "B") + &msg("3", t, "c");
    fs::write(env.raw_path("2026-01-20"), replaced).unwrap();
    let v = env.ingest(&[]);
    assert_eq!(v["files"]["2026-01-20.jsonl"]["reprocessed"], true);
    assert_eq!(v["rejected"], 1);
    let current = fs::read_to_string(env.data.join("metadata/rejects/2026-01-20.jsonl")).unwrap();
    assert_eq!(
        current.lines().count(),
        1,
        "the current quarantine holds the bad line once"
    );
    let aside: Vec<_> = fs::read_dir(env.data.join("metadata/rejects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old content's quarantine is kept aside");
    assert_eq!(env.id_counts().len(), 3);
}

#[test]
fn moving_a_checkpoint_aside_reads_the_file_again() {
    let env = TestEnv::new();
    let t = shanghai(2026, 1, 20, 8, 0, 0);
    env.append_raw("2026-01-20", &(msg("1", t, "a") + &msg("2", t, "b")));
    env.ingest(&[]);
    assert_eq!(env.ingest(&[])["lines_read"], 0);
    let cp = env.data.join("metadata/checkpoints/2026-01-20.json");
    fs::rename(&cp, env.data.join("old-checkpoint.json")).unwrap();
    let v = env.ingest(&[]);
    assert_eq!(v["lines_read"], 2);
    assert_eq!(v["duplicates"], 2);
    assert_eq!(v["written"], 0);
}

/// The ingest pipeline on a file of many chunks: every normalizer thread reads some, a resend
/// repeats an id from several megabytes (chunks) earlier, late arrivals of the same and of the
/// previous day are spread through the file, and the main partition takes several row groups. Every message lands
/// once, in its day, and every row group is in (chatroom, create_time) order.
#[test]
fn a_file_of_many_chunks_lands_once_and_sorted_in_every_row_group() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let env = TestEnv::new();
    let day = shanghai(2026, 1, 20, 0, 0, 0);
    let filler = "x".repeat(600);
    let n: i64 = 40_000; // ~27 MB: seven 4 MiB chunks, several 8 MiB row groups
    let mut lines = Vec::new();
    let mut text = String::new();
    for i in 0..n {
        let t = match i {
            _ if i % 1000 == 999 => day - 60, // a late arrival of the previous day
            _ if i % 777 == 776 && i > 2000 => day + 2 * i - 3600, // an hour late, same day
            _ => day + 2 * i,
        };
        let line = serde_json::json!({
            "msg_id": i,
            "create_time": t,
            "chatroom": format!("{}@chatroom", i % 7),
            "content": filler,
        })
        .to_string()
            + "\n";
        text += &line;
        lines.push(line);
        if i % 5000 == 4999 {
            text += &lines[(i - 4000) as usize]; // a resend, ~2.6 MB later
        }
    }
    env.append_raw("2026-01-20", &text);
    let v = env.ingest(&[]);
    assert_eq!(v["written"], n);
    assert_eq!(v["duplicates"], n / 5000);
    assert_eq!(v["conflicting_duplicates"], 0);
    let rows = env.rows();
    let mut per_day = std::collections::BTreeMap::new();
    for r in &rows {
        *per_day.entry(r.partition.clone()).or_insert(0) += 1;
    }
    assert_eq!(
        per_day.into_iter().collect::<Vec<_>>(),
        [
            ("year=2026/month=01/day=19".to_string(), n / 1000),
            ("year=2026/month=01/day=20".to_string(), n - n / 1000),
        ]
    );
    let counts = env.id_counts();
    assert_eq!(counts.len(), n as usize);
    assert!(counts.values().all(|&c| c == 1));

    let layout = env.layout();
    let key = layout.partitions().unwrap().into_iter().last().unwrap();
    let files = layout.partition_files(key).unwrap();
    assert_eq!(files.len(), 1);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&files[0]).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    assert!(groups >= 3, "{groups} row groups");
    for g in 0..groups {
        let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&files[0]).unwrap())
            .unwrap()
            .with_row_groups(vec![g])
            .build()
            .unwrap();
        let mut keys = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let rooms = batch.column_by_name("chatroom").unwrap().as_string::<i32>();
            let times = batch
                .column_by_name("create_time")
                .unwrap()
                .as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                keys.push((rooms.value(i).to_string(), times.value(i)));
            }
        }
        assert!(
            keys.is_sorted(),
            "row group {g} is not in (chatroom, create_time) order"
        );
    }
}

#[test]
fn resends_reaching_back_over_groups_not_yet_published_are_dropped() {
    // 40 raw files, one day each: several commit groups, some of them sealed and waiting for
    // their fsyncs while the next files are deduplicated. Every file resends messages of the
    // files 1, 9 and 17 days before it (same msg_id and create_time: the partition of an
    // earlier group), so a resend meets its partition in a group committed, in one still
    // waiting, or in the open one.
    let env = TestEnv::new();
    let first = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    let per_day: i64 = 30;
    let days: i64 = 40;
    let line = |day: i64, k: i64| {
        let t = shanghai(2025, 3, 1, 8, 0, 0) + day * 86_400 + k;
        msg(
            &format!("d{day}-{k}"),
            t,
            &format!("message {k} of day {day}"),
        )
    };
    for day in 0..days {
        let mut text = String::new();
        for k in 0..per_day {
            text += &line(day, k);
            for back in [1, 9, 17] {
                if day >= back && k % 10 == back % 10 {
                    text += &line(day - back, k);
                }
            }
        }
        let date = first + chrono::Days::new(day as u64);
        env.append_raw(&date.format("%Y-%m-%d").to_string(), &text);
    }
    let v = env.ingest(&[]);
    let resends: i64 = [1, 9, 17].iter().map(|b| (days - b) * per_day / 10).sum();
    assert_eq!(v["written"], days * per_day);
    assert_eq!(v["duplicates"], resends);
    assert_eq!(v["conflicting_duplicates"], 0);
    let counts = env.id_counts();
    assert_eq!(counts.len() as i64, days * per_day);
    assert!(counts.values().all(|&n| n == 1), "a message stored twice");
}
