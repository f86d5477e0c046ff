//! Regression tests, each named after the defect it pins (issue 11's numbering).

use std::io::Write;
use std::time::{Duration, SystemTime};

use chrono::TimeZone;

use crate::common::*;

/// Make `path` look unmodified for an hour.
fn age(path: &std::path::Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Issue 11, item 5: a collector that names files by the UTC date was still writing "yesterday's"
/// file (in the lake's zone) when ingest ran; its unterminated last line, a long message flushed
/// in 8 KiB pieces, was taken as complete and quarantined, and its remainder became a second bad
/// line. A recently modified file is now never finished, whatever its name.
#[test]
fn regression_collector_mid_write_in_a_file_not_named_today() {
    let env = TestEnv::new();
    let yesterday = (today_shanghai() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let long = msg("2", now, &"长".repeat(6000));
    env.append_raw(&yesterday, &msg("1", now, "done"));
    env.append_raw(&yesterday, &long[..8192]);
    let v = env.ingest(&[]);
    let file = &v["files"][format!("{yesterday}.jsonl")];
    assert_eq!(
        (v["written"].as_u64(), v["rejected"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert_eq!(file["status"], "partial", "{v}");
    assert!(file["held_back_bytes"].as_u64().unwrap() >= 8192, "{v}");
    env.append_raw(&yesterday, &long[8192..]);
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["rejected"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert!(env.rejects().is_empty());
    // Once the file has settled, an unterminated line in it is complete.
    env.append_raw(&yesterday, msg("3", now, "last").trim_end());
    age(&env.raw_path(&yesterday));
    let v = env.ingest(&[]);
    assert_eq!(v["written"], 1, "{v}");
    assert_eq!(
        v["files"][format!("{yesterday}.jsonl")]["status"],
        "complete"
    );
    // --settle-time 0s takes the name's word for it.
    env.append_raw(&yesterday, msg("4", now, "now").trim_end());
    let v = env.ingest(&["--settle-time", "0s"]);
    assert_eq!(v["written"], 1, "{v}");
}

/// Issue 11, item 5, under load: a collector appends long lines in 8 KiB writes to a file whose
/// name is an earlier day in the lake's zone, while `ingest --date today` runs in a loop and is
/// killed at random instants. Every complete line lands exactly once; nothing is quarantined.
#[test]
fn regression_collector_appending_in_8k_writes_while_ingest_is_killed() {
    let env = TestEnv::new();
    let name = (today_shanghai() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let path = env.raw_path(&name);
    std::fs::File::create(&path).unwrap();
    let now = chrono::Utc::now().timestamp();
    let lines: Vec<String> = (0..120)
        .map(|i| {
            msg(
                &format!("m{i}"),
                now,
                &format!("{i} {}", "数据".repeat(500 + i * 37)),
            )
        })
        .collect();
    let writer_path = path.clone();
    let writer_lines = lines.clone();
    let collector = std::thread::spawn(move || {
        let mut f = std::fs::File::options()
            .append(true)
            .open(&writer_path)
            .unwrap();
        for line in &writer_lines {
            for piece in line.as_bytes().chunks(8192) {
                f.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(3));
            }
        }
    });
    let mut rng = TestRng::from_env(0x5eed);
    let mut killed = 0;
    while !collector.is_finished() {
        // At least 5 ms: a run killed before it reads anything proves little.
        std::thread::sleep(Duration::from_millis(5));
        killed += u32::from(kill_at_random(
            env.command().args(["ingest", "--date", "today", "-q"]),
            &mut rng,
            60,
        ));
    }
    collector.join().unwrap();
    assert!(
        killed > 0,
        "no run was interrupted; the test proved nothing"
    );
    env.ingest(&["--date", "today"]);
    let counts = env.id_counts();
    assert_eq!(counts.len(), lines.len(), "every complete line");
    assert!(counts.values().all(|&n| n == 1), "exactly once");
    assert!(
        env.rejects().is_empty(),
        "nothing quarantined: {:?}",
        env.rejects()
    );
}

/// Issue 11, item 3: with `metadata/lake.json` lost, a lake written under America/New_York was
/// silently given the default zone (Asia/Shanghai), re-split, and the same msg_id stored twice.
#[test]
fn regression_lost_lake_json_is_recovered_from_the_files_never_re_split() {
    let env = TestEnv::new();
    // 23:30 in New York is the next day in Shanghai: a re-split would put it in another partition.
    let t = chrono_tz::America::New_York
        .with_ymd_and_hms(2026, 1, 20, 23, 30, 0)
        .unwrap()
        .timestamp();
    env.append_raw("2026-01-20", &msg("1", t, "evening"));
    env.ingest(&["--timezone", "America/New_York"]);
    std::fs::remove_file(env.data.join("metadata/lake.json")).unwrap();
    std::fs::remove_dir_all(env.data.join("metadata/checkpoints")).unwrap();
    // A reader uses the zone the files record.
    let q = env.run(&["query", "--start", "2026-01-20", "--count"]);
    q.assert_code(0);
    assert_eq!(q.stdout.trim(), "1", "{}", q.stderr);
    // A rerun reads the raw file again: the message stays once, in its New York day.
    env.append_raw("2026-01-20", &msg("2", t + 60, "later"));
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["timezone"], "America/New_York");
    assert!(env.id_counts().values().all(|&n| n == 1));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.data.join("metadata/lake.json")).unwrap())
            .unwrap();
    assert_eq!(meta["timezone"], "America/New_York");
    env.run(&["verify"]).assert_code(0);
    // Another zone than the files record is refused.
    std::fs::remove_file(env.data.join("metadata/lake.json")).unwrap();
    env.run(&["ingest", "--timezone", "Asia/Shanghai"])
        .assert_code(64);
}

/// Issue 11, item 3, for files of older versions that do not record their zone: refused with a
/// message naming lake.json, unless --timezone says which zone.
#[test]
fn regression_lost_lake_json_with_files_that_record_no_zone_is_refused() {
    let env = TestEnv::new();
    let dir = env.data.join("parquet/messages/year=2026/month=01/day=20");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema/older-no-source.parquet");
    std::fs::copy(fixture, dir.join("part-old-000.parquet")).unwrap();
    env.append_raw("2026-01-20", &msg("9", shanghai(2026, 1, 20, 9, 0, 0), "x"));
    let before = env.snapshot();
    for args in [&["ingest"][..], &["query", "--start", "2026-01-20"]] {
        let run = env.run(args);
        run.assert_code(65);
        assert!(
            run.stderr.contains("lake.json") && run.stderr.contains("--timezone"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.snapshot(), before, "nothing written");
    env.ingest(&["--timezone", "Asia/Shanghai"]);
}

/// Issue 11, smaller item: a lake.json of an unknown (newer) schema version is refused.
#[test]
fn regression_lake_json_with_an_unknown_schema_version_is_refused() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "x"));
    env.ingest(&[]);
    let path = env.data.join("metadata/lake.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"schema_version\": 3", "\"schema_version\": 99");
    std::fs::write(&path, text).unwrap();
    let run = env.run(&["ingest"]);
    run.assert_code(65);
    assert!(run.stderr.contains("schema version 99"), "{}", run.stderr);
}

/// Issue 11, item 9: `query --output` replaced a symlink, a FIFO or /dev/stdout with a regular
/// file. It now writes through a symlink (replacing the file it points at) and streams to
/// anything that is not a regular file.
#[test]
fn regression_query_output_writes_through_symlinks_and_to_fifos() {
    let env = one_message_env();
    env.ingest(&[]);
    let dir = tempfile::tempdir().unwrap();
    // A symlink to a regular file: the file gets the rows, the link stays a link.
    let real = dir.path().join("real.jsonl");
    std::fs::write(&real, "old\n").unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--output",
        link.to_str().unwrap(),
    ])
    .assert_code(0);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("\"hello\"")
    );
    // A FIFO: streamed to its reader, and still a FIFO afterwards.
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read_to_string(reader_path).unwrap());
    env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--format",
        "jsonl",
        "--output",
        fifo.to_str().unwrap(),
    ])
    .assert_code(0);
    assert!(reader.join().unwrap().contains("\"hello\""));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // /dev/stdout (a pipe here): the rows reach stdout.
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--format",
        "jsonl",
        "--output",
        "/dev/stdout",
    ]);
    run.assert_code(0);
    assert!(run.stdout.contains("\"hello\""), "{run:?}");
}

/// The `WXLAKE_…` variables `wxlake CMD --help` names.
fn env_vars(env: &TestEnv, cmd: &str) -> std::collections::BTreeSet<String> {
    let help = env.run(&[cmd, "--help"]).stdout;
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(String::from)
        .collect()
}

/// Issue 11, item 12: WXLAKE_START, WXLAKE_END, WXLAKE_DRY_RUN and WXLAKE_JSON served several
/// commands, so `WXLAKE_START=2026-01-22 wxlake verify` checked one partition and called a lake
/// with problems whole. Every variable now belongs to exactly one command, or to all (global).
#[test]
fn regression_environment_variables_shared_across_commands() {
    let env = TestEnv::new();
    let commands = [
        "ingest", "query", "contacts", "compact", "archive", "status", "verify",
    ];
    let global = [
        "WXLAKE_DATA_DIR",
        "WXLAKE_TIMEZONE",
        "WXLAKE_VERBOSE",
        "WXLAKE_QUIET",
        "WXLAKE_LOG_FORMAT",
    ];
    let mut owners: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for cmd in commands {
        for var in env_vars(&env, cmd) {
            owners.entry(var).or_default().push(cmd);
        }
    }
    for (var, cmds) in &owners {
        if global.contains(&var.as_str()) {
            assert_eq!(
                cmds.len(),
                commands.len(),
                "{var} is global: every command takes it"
            );
            continue;
        }
        assert_eq!(cmds.len(), 1, "{var} is shared by {cmds:?}");
        let prefix = format!("WXLAKE_{}_", cmds[0].to_uppercase());
        assert!(
            var.starts_with(&prefix) || var == "WXLAKE_MASK",
            "{var} should be named {prefix}…"
        );
    }
    // The case: a query's start does not narrow verify.
    for day in ["2026-01-20", "2026-01-22"] {
        env.append_raw(
            day,
            &msg(
                day,
                shanghai(2026, 1, day[8..].parse().unwrap(), 9, 0, 0),
                "x",
            ),
        );
    }
    env.ingest(&[]);
    let stray = env
        .data
        .join("parquet/messages/year=2026/month=01/day=20/notes.txt");
    std::fs::write(&stray, "x").unwrap();
    let run: Run = env
        .command()
        .arg("verify")
        .env("WXLAKE_START", "2026-01-22")
        .env("WXLAKE_QUERY_START", "2026-01-22")
        .output()
        .unwrap()
        .into();
    run.assert_code(65);
    assert!(run.stdout.contains("notes.txt"), "{}", run.stdout);
    // Issue 11, smaller item: an empty flag variable is false.
    let run: Run = env
        .command()
        .arg("status")
        .env("WXLAKE_STATUS_JSON", "")
        .output()
        .unwrap()
        .into();
    run.assert_code(0);
    assert!(run.stdout.starts_with("lake: "), "{}", run.stdout);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 11, item 8: a symlink in `messages/raw/` to a file outside the data directory (such as
/// /etc/shadow) was followed and its lines copied into a world-readable quarantine. Only regular
/// files, and symlinks to regular files inside the data directory, are read; anything else is
/// skipped with a warning naming it. And no file wxlake writes is more readable than the raw
/// files it comes from.
#[test]
fn regression_symlinks_and_devices_in_raw_and_private_raw_files() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let raw = env.data.join("messages/raw");
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "secret line one\nsecret line two\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), raw.join("2026-01-18.jsonl")).unwrap();
    std::fs::create_dir(raw.join("2026-01-19.jsonl")).unwrap();
    let fifo = raw.join("2026-01-21.jsonl");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A symlink to a regular file inside the data directory is read.
    let inside = env.data.join("incoming-2026-01-22.jsonl");
    std::fs::write(&inside, msg("22", shanghai(2026, 1, 22, 9, 0, 0), "linked")).unwrap();
    std::os::unix::fs::symlink(&inside, raw.join("2026-01-22.jsonl")).unwrap();
    // A private raw file (0600) with a rejected line.
    env.append_raw(
        "2026-01-20",
        &(msg("20", shanghai(2026, 1, 20, 9, 0, 0), "private") + "not json\n"),
    );
    let private = env.raw_path("2026-01-20");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();

    let run = env.run(&["ingest", "--json"]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(
        (v["written"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    for (name, why) in [
        ("2026-01-18.jsonl", "symlink out of the data directory"),
        ("2026-01-19.jsonl", "not a regular file"),
        ("2026-01-21.jsonl", "not a regular file"),
    ] {
        assert!(
            run.stderr.contains(name) && run.stderr.contains(why),
            "{name}: {}",
            run.stderr
        );
    }
    let quarantine =
        std::fs::read_to_string(env.data.join("metadata/rejects/2026-01-20.jsonl")).unwrap();
    assert!(!quarantine.contains("secret"), "{quarantine}");
    // Nothing written from the raw files is readable by group or others when they are not
    // (lake.json, the schema registry and the lock hold no message data).
    let no_data = ["lake.json", "schema_registry.json", "wxlake.lock"];
    for path in files_under(&env.data.join("parquet"))
        .into_iter()
        .chain(files_under(&env.data.join("metadata")))
        .filter(|p| !no_data.iter().any(|n| p.ends_with(n)))
    {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0, "{} is {mode:o}", path.display());
    }
}

/// What a terminal keeps in its scrollback from `bytes`: lines ended by a newline, after
/// carriage returns and "clear line" sequences did their work.
fn scrollback(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut col = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                lines.push(line.iter().collect::<String>().trim_end().to_string());
                line.clear();
                col = 0;
            }
            '\r' => col = 0,
            '\x1b' => {
                // CSI: ESC [ params letter
                if chars.peek() == Some(&'[') {
                    chars.next();
                    let mut code = String::new();
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            code.push(d);
                            break;
                        }
                    }
                    if code == "K" {
                        line.truncate(col);
                    }
                }
            }
            c => {
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    lines
}

/// Issue 11, item 13: when a warning was logged during ingest on a terminal, frozen copies of
/// the progress bar stayed in the scrollback (30 on a 30-file run). Log lines now print above
/// the bar.
#[test]
fn regression_progress_bar_and_logs_leave_no_frozen_bars() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` (to run under a pseudo-terminal) is missing");
        return;
    }
    let env = TestEnv::new();
    for day in 1..=30u32 {
        let date = format!("2026-01-{day:02}");
        let mut text = String::new();
        for i in 0..2000 {
            text += &msg(
                &format!("{day}-{i}"),
                shanghai(2026, 1, day, 9, 0, 0) + i,
                "x",
            );
        }
        text += "not json\n";
        env.append_raw(&date, &text);
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\\\''"));
    let cmd = format!(
        // -v: each rejected line is logged (at debug), so log lines come while the bar is drawn.
        "{} --data-dir {} -v ingest",
        quote(env!("CARGO_BIN_EXE_wxlake")),
        quote(env.data.to_str().unwrap())
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines = scrollback(&out.stdout);
    let warnings = lines
        .iter()
        .filter(|l| l.contains("rejected line quarantined"))
        .count();
    assert_eq!(warnings, 30, "one reject per file, each logged: {lines:#?}");
    let frozen: Vec<&String> = lines.iter().filter(|l| l.contains("raw files [")).collect();
    assert!(
        frozen.is_empty(),
        "frozen progress bars in the scrollback: {frozen:#?}"
    );
}

/// The checksum a lake file records, and the length of the region it covers.
fn recorded_checksum_len(path: &std::path::Path) -> usize {
    let info = wxlake::lake::footer::read_footer(path).unwrap();
    let recorded = info.checksum.expect("every file records a checksum");
    recorded.rsplit(':').next().unwrap().parse().unwrap()
}

/// Issue 11, item 10: 40 flipped bytes inside a data page were printed by query as altered text,
/// passed verify, and were copied into a new file by compact. Files now record a checksum of
/// their data pages; verify names a damaged file (exit 65), and compact and archive refuse to
/// rewrite it.
#[test]
fn regression_silent_corruption_of_a_data_page() {
    let env = TestEnv::new();
    for round in 0..2 {
        let mut text = String::new();
        for i in 0..500 {
            text += &msg(
                &format!("{round}-{i}"),
                shanghai(2026, 1, 20, 9, 0, 0) + i,
                &format!("message number {i} of round {round}"),
            );
        }
        env.append_raw("2026-01-20", &text);
        env.ingest(&[]);
    }
    env.run(&["verify"]).assert_code(0);
    let dir = env.data.join("parquet/messages/year=2026/month=01/day=20");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let victim = &files[0];
    let len = recorded_checksum_len(victim);
    let mut bytes = std::fs::read(victim).unwrap();
    for b in &mut bytes[len / 2..len / 2 + 40] {
        *b ^= 0x20;
    }
    std::fs::write(victim, &bytes).unwrap();
    let before = env.snapshot();
    let run = env.run(&["verify"]);
    run.assert_code(65);
    let name = victim.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        run.stdout.contains(&name) && run.stdout.contains("corrupt"),
        "{}",
        run.stdout
    );
    for args in [&["compact"][..], &["archive"]] {
        let run = env.run(args);
        run.assert_code(65);
        assert!(run.stderr.contains(&name), "{args:?}: {}", run.stderr);
    }
    assert_eq!(env.snapshot(), before, "nothing was rewritten");
}

/// Append `n` bytes of `x` (no newline) to `path`.
fn append_filler(path: &std::path::Path, n: usize) {
    let mut f = std::fs::File::options()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    let block = vec![b'x'; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        f.write_all(&block[..k]).unwrap();
        left -= k;
    }
}

/// The peak RSS a run of `wxlake ARGS` reports (WXLAKE_REPORT_PEAK_MEMORY), in MB.
fn peak_mb(env: &TestEnv, args: &[&str]) -> (Run, u64) {
    let run: Run = env
        .command()
        .args(args)
        .env("WXLAKE_REPORT_PEAK_MEMORY", "1")
        .output()
        .unwrap()
        .into();
    let kb: u64 = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .unwrap_or_else(|| panic!("no peak reported: {}", run.stderr))
        .parse()
        .unwrap();
    (run, kb / 1024)
}

/// Issue 11, item 7: a raw file of 2 GB without a newline cost 2.1 GB of memory on every run.
/// A line longer than --max-line-bytes is read past and quarantined by reference (file, offset,
/// length, first bytes); memory stays within the usual bound.
#[test]
fn regression_unbounded_lines_keep_memory_bounded() {
    const LONG: usize = 150 << 20;
    let env = TestEnv::new();
    // An earlier, settled day: a 150 MB line between two messages.
    let day = env.raw_path("2026-01-20");
    env.append_raw(
        "2026-01-20",
        &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "before"),
    );
    env.append_raw("2026-01-20", "{\"msg_id\":\"2\",\"content\":\"");
    append_filler(&day, LONG);
    env.append_raw(
        "2026-01-20",
        &format!(
            "\"}}\n{}",
            msg("3", shanghai(2026, 1, 20, 9, 1, 0), "after")
        ),
    );
    age(&day);
    // Today: a 150 MB line still being written.
    let today = today_shanghai().format("%Y-%m-%d").to_string();
    env.append_raw(&today, &msg("4", chrono::Utc::now().timestamp(), "today"));
    append_filler(&env.raw_path(&today), LONG);

    let (run, peak) = peak_mb(&env, &["ingest", "--json", "--max-line-bytes", "8MiB"]);
    run.assert_code(0);
    assert!(peak < 100, "peak RSS {peak} MB for 150 MB lines");
    let v = run.json();
    assert_eq!(
        (v["written"].as_u64(), v["rejected"].as_u64()),
        (Some(3), Some(1)),
        "{v}"
    );
    let today_file = &v["files"][format!("{today}.jsonl")];
    assert_eq!(today_file["status"], "partial");
    assert!(today_file["held_back_bytes"].as_u64().unwrap() >= LONG as u64);
    let rejects = env.rejects();
    assert_eq!(rejects.len(), 1);
    let r = &rejects[0];
    assert_eq!(
        (r["line"].as_u64(), r["offset"].as_u64(), r["code"].as_str()),
        (
            Some(2),
            Some(msg("1", shanghai(2026, 1, 20, 9, 0, 0), "before").len() as u64),
            Some("line_too_long")
        )
    );
    assert!(
        r["raw"].as_str().unwrap().len() <= 256,
        "only the first bytes are kept"
    );
    let len = "{\"msg_id\":\"2\",\"content\":\"".len() + LONG + "\"}".len();
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("a line of {len} bytes")),
        "{r}"
    );
    // The next run does not take more memory for the unfinished line, and finds nothing new.
    let (run, peak) = peak_mb(&env, &["ingest", "--json", "--max-line-bytes", "8MiB"]);
    run.assert_code(0);
    assert!(peak < 100, "peak RSS {peak} MB on the rerun");
    assert_eq!(run.json()["written"], 0);
}

/// Issue 11, item 1: a raw file rewritten in place (same inode, `cat new > file`) while ingest
/// read it got a checkpoint whose fingerprint was taken from the new content after the read, so
/// the next run skipped it and lost the new lines. The fingerprint now describes the bytes
/// processed, and the next run sees the file changed and reads it again.
#[test]
fn regression_in_place_rewrite_during_a_read_loses_nothing() {
    let env = TestEnv::new();
    let lines = |tag: &str, n: usize| -> String {
        (0..n)
            .map(|i| {
                msg(
                    &format!("{tag}{i}"),
                    shanghai(2026, 1, 20, 9, 0, 0) + i as i64,
                    "x",
                )
            })
            .collect()
    };
    env.append_raw("2026-01-20", &lines("a", 1000));
    env.ingest(&["--settle-time", "0s"]);
    env.append_raw("2026-01-20", &lines("b", 1000));
    // Pause after reading, before the checkpoint; rewrite the file in place meanwhile.
    let child = env
        .command()
        .args(["ingest", "-q", "--settle-time", "0s"])
        .env("WXLAKE_FAILPOINTS", "ingest.staged:pause=1500")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let path = env.raw_path("2026-01-20");
    let rewritten = lines("c", 2000) + &lines("d", 500);
    {
        let mut f = std::fs::File::options()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.write_all(rewritten.as_bytes()).unwrap();
    }
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success(), "{status:?}");
    let v = env.ingest(&["--settle-time", "0s"]);
    assert_eq!(v["files"]["2026-01-20.jsonl"]["reprocessed"], true, "{v}");
    let counts = env.id_counts();
    for tag_n in [("c", 2000), ("d", 500)] {
        for i in 0..tag_n.1 {
            let id = format!("{}{i}", tag_n.0);
            assert_eq!(counts.get(&id), Some(&1), "{id} of the rewritten file");
        }
    }
    env.run(&["verify"]).assert_code(0);
}

/// Issue 11, item 2: after `archive` moved a day's raw file away, a late write re-created it;
/// the rebuild (checkpoints and lake moved aside) restored only the late lines, and every later
/// `archive` failed with "…zst does not decompress to …jsonl". Both copies are read, and the
/// archive takes the re-created file in.
#[test]
fn regression_rebuild_reads_an_archive_and_the_re_created_file_of_its_day() {
    let env = TestEnv::new();
    let date = today_shanghai() - chrono::Duration::days(20);
    let d = date.format("%Y-%m-%d").to_string();
    let t0 = SHANGHAI
        .from_local_datetime(&date.and_hms_opt(9, 0, 0).unwrap())
        .unwrap()
        .timestamp();
    let lines = |tag: &str, n: i64| -> String {
        (0..n)
            .map(|i| msg(&format!("{tag}{i}"), t0 + i, "x"))
            .collect()
    };
    env.append_raw(&d, &lines("early", 100));
    env.ingest(&[]);
    env.run(&["archive", "--raw-retention", "10d"])
        .assert_code(0);
    assert!(!env.raw_path(&d).exists());
    // A late write re-creates the day's file.
    env.append_raw(&d, &lines("late", 5));
    assert_eq!(env.ingest(&[])["written"], 5);
    let rebuild = |env: &TestEnv| {
        std::fs::remove_dir_all(env.data.join("parquet")).unwrap();
        let aside = env
            .data
            .join(format!("checkpoints.aside.{}", rand_suffix()));
        std::fs::rename(env.data.join("metadata/checkpoints"), aside).unwrap();
        std::fs::remove_file(env.data.join("metadata/raw_index.json")).ok();
        let v = env.ingest(&[]);
        assert_eq!(v["written"], 105, "both copies of the day: {v}");
        assert_eq!(env.id_counts().len(), 105);
        assert_eq!(
            env.ingest(&[])["written"],
            0,
            "the next run finds nothing new"
        );
    };
    // Rebuild while both copies exist.
    rebuild(&env);
    // Archive takes the re-created file in (it failed forever before), and again after that.
    let run = env.run(&["archive", "--raw-retention", "10d"]);
    run.assert_code(0);
    assert!(!env.raw_path(&d).exists());
    let archive = env.data.join(format!("messages/raw/archive/{d}.jsonl.zst"));
    let decoded = zstd::decode_all(std::fs::File::open(&archive).unwrap()).unwrap();
    assert_eq!(
        decoded,
        (lines("early", 100) + &lines("late", 5)).into_bytes()
    );
    env.run(&["archive", "--raw-retention", "10d"])
        .assert_code(0);
    // Rebuild from the archive alone.
    rebuild(&env);
    env.run(&["verify"]).assert_code(0);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Issue 11, smaller items: an empty directory left in `parquet/.swap/` (a compaction that
/// failed to start on a full disk) is not a problem; odd raw file names and non-canonical
/// partition directories are warned about by status and verify (the collector's own lock files
/// are not); verify prints each path once.
#[test]
fn regression_verify_and_status_on_leftovers_and_odd_names() {
    let env = TestEnv::new();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "x"));
    env.ingest(&[]);
    std::fs::create_dir_all(env.data.join("parquet/.swap/2026-01-20-run")).unwrap();
    let raw = env.data.join("messages/raw");
    std::fs::write(raw.join("2026-1-8.jsonl"), "{}\n").unwrap();
    std::fs::write(raw.join("x.jsonl"), "{}\n").unwrap();
    std::fs::write(raw.join("2026-01-20.lock"), "").unwrap();
    std::fs::create_dir_all(env.data.join("parquet/messages/year=2026/month=1/day=5")).unwrap();
    let run = env.run(&["verify"]);
    run.assert_code(0);
    for want in ["2026-1-8.jsonl", "x.jsonl", "month=1"] {
        assert!(run.stdout.contains(want), "{want}: {}", run.stdout);
    }
    assert!(!run.stdout.contains(".lock"), "{}", run.stdout);
    assert!(!run.stdout.contains(".swap"), "{}", run.stdout);
    let status = env.run(&["status"]);
    status.assert_code(0);
    assert!(
        status.stdout.contains("warning: ") && status.stdout.contains("x.jsonl"),
        "{}",
        status.stdout
    );
    // A file with two problems is listed once.
    let dir = env.data.join("parquet/messages/year=2026/month=01/day=20");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"PAR1 not parquet").unwrap();
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let run = env.run(&["verify"]);
    run.assert_code(65);
    for line in run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("warning: ") && !l.starts_with("verify: "))
    {
        let path = line.split(": ").next().unwrap();
        assert_eq!(
            run.stdout
                .lines()
                .filter(|l| l.starts_with(&format!("{path}: ")))
                .count(),
            1,
            "{}",
            run.stdout
        );
    }
}

/// Issue 11, smaller item: a corrupt `.jsonl.zst` is an error naming it (exit 65) that blocks
/// only its own day: the other raw files are ingested.
#[test]
fn regression_corrupt_raw_archive_blocks_only_its_day() {
    let env = TestEnv::new();
    let archive_dir = env.data.join("messages/raw/archive");
    std::fs::create_dir_all(&archive_dir).unwrap();
    std::fs::write(archive_dir.join("2026-01-19.jsonl.zst"), b"not zstd at all").unwrap();
    env.append_raw("2026-01-20", &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "x"));
    let run = env.run(&["ingest"]);
    run.assert_code(65);
    assert!(
        run.stderr.contains("2026-01-19.jsonl.zst"),
        "{}",
        run.stderr
    );
    assert_eq!(env.id_counts().len(), 1, "the other day was ingested");
}

/// Issue 13 (operator surface): `--output x.CSV` and `--output out.txt` silently wrote JSON
/// Lines. Extensions match case-insensitively, and one that names no format is a usage error.
#[test]
fn regression_output_extension_picks_the_format_or_is_refused() {
    let env = one_message_env();
    env.ingest(&[]);
    let dir = tempfile::tempdir().unwrap();
    let upper = dir.path().join("x.CSV");
    env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--output",
        upper.to_str().unwrap(),
    ])
    .assert_code(0);
    assert!(
        std::fs::read_to_string(&upper)
            .unwrap()
            .starts_with("msg_id,"),
        "CSV with a header"
    );
    let txt = dir.path().join("out.txt");
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--output",
        txt.to_str().unwrap(),
    ]);
    run.assert_code(64);
    assert!(
        run.stderr.contains(".txt") && run.stderr.contains("--format"),
        "{}",
        run.stderr
    );
    assert!(!txt.exists(), "nothing written");
    env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--format",
        "jsonl",
        "--output",
        txt.to_str().unwrap(),
    ])
    .assert_code(0);
}

/// The partition of every stored copy of `id`.
fn partitions_of(env: &TestEnv, id: &str) -> Vec<String> {
    env.rows()
        .into_iter()
        .filter(|r| r.msg_id == id)
        .map(|r| r.partition)
        .collect()
}

/// Issue 11, item 4: `{"msg_id":"42","create_time":1767225600}` and the same id two days later
/// were both stored, and `verify` failed with "stored 2 times" forever. Dedup is lake-wide now:
/// the first copy wins, in a later run, later in the same file, in a later file of the same run,
/// and in a lake written before the msg_id index existed.
#[test]
fn regression_one_msg_id_in_two_days_is_stored_once() {
    let env = TestEnv::new();
    let two_days = 2 * 86_400;
    env.append_raw("2026-01-01", &msg("42", 1_767_225_600, "first"));
    assert_eq!(env.ingest(&[])["written"], 1);

    // A later run, another day.
    env.append_raw(
        "2026-01-03",
        &(msg("42", 1_767_225_600 + two_days, "again")
            + &msg("43", 1_767_225_600 + two_days, "new")),
    );
    let v = env.ingest(&[]);
    assert_eq!(
        (
            v["written"].as_u64(),
            v["duplicates"].as_u64(),
            v["conflicting_duplicates"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(partitions_of(&env, "42"), ["year=2026/month=01/day=01"]);

    // The same file, the same run: the earlier line wins.
    let t5 = shanghai(2026, 1, 5, 10, 0, 0);
    env.append_raw(
        "2026-01-05",
        &(msg("50", t5, "day five") + &msg("50", t5 + 86_400, "day six")),
    );
    // Two files of one run.
    let t7 = shanghai(2026, 1, 7, 10, 0, 0);
    env.append_raw("2026-01-07", &msg("60", t7, "day seven"));
    env.append_raw("2026-01-08", &msg("60", t7 + 86_400, "day eight"));
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    assert_eq!(partitions_of(&env, "50"), ["year=2026/month=01/day=05"]);
    assert_eq!(partitions_of(&env, "60"), ["year=2026/month=01/day=07"]);

    // A lake from before the index: the next ingest builds it from the stored msg_ids.
    std::fs::remove_dir_all(env.data.join("metadata/msg_index")).unwrap();
    let w = env.run(&["verify"]);
    w.assert_code(0);
    assert!(
        w.stdout.contains("no msg_id index yet") || w.stderr.contains("no msg_id index yet"),
        "{w:?}"
    );
    env.append_raw(
        "2026-01-10",
        &msg("42", shanghai(2026, 1, 10, 9, 0, 0), "third"),
    );
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(partitions_of(&env, "42"), ["year=2026/month=01/day=01"]);
    assert!(env.id_counts().values().all(|&n| n == 1));
    env.run(&["verify"]).assert_code(0);
}

/// Issue 11, item 4: an index that does not list a stored id would let a later copy in another
/// day in; `verify` says so, and removing the index (as it advises) makes the next ingest
/// rebuild it.
#[test]
fn regression_msg_id_index_missing_entries_is_reported_by_verify() {
    let env = TestEnv::new();
    env.append_raw(
        "2026-01-01",
        &msg("42", shanghai(2026, 1, 1, 9, 0, 0), "first"),
    );
    env.ingest(&[]);
    let index = env.data.join("metadata/msg_index");
    for e in std::fs::read_dir(&index).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "log") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let v = env.run(&["verify", "--json"]);
    v.assert_code(65);
    let report = v.json();
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("1 msg_id not in the msg_id index")
            && problems.contains("remove metadata/msg_index"),
        "{problems}"
    );
    std::fs::remove_dir_all(&index).unwrap();
    env.append_raw(
        "2026-01-03",
        &msg("42", shanghai(2026, 1, 3, 9, 0, 0), "again"),
    );
    assert_eq!(env.ingest(&[])["duplicates"], 1);
    env.run(&["verify"]).assert_code(0);
}

/// Issue 11, item 4, for lakes that already hold a msg_id in two days (written before dedup
/// was lake-wide): `verify` names both files, and the README's repair (move the later partition
/// and its raw file's checkpoint aside, ingest) keeps the first copy only.
#[test]
fn regression_a_msg_id_already_stored_in_two_days_is_repaired_by_a_re_read() {
    let env = TestEnv::new();
    env.append_raw(
        "2026-01-01",
        &msg("42", shanghai(2026, 1, 1, 9, 0, 0), "first"),
    );
    env.ingest(&[]);
    // What an earlier version left: the same id in 2026-01-03's partition, unknown to the index.
    let other = TestEnv::new();
    other.append_raw(
        "2026-01-03",
        &(msg("42", shanghai(2026, 1, 3, 9, 0, 0), "again")
            + &msg("43", shanghai(2026, 1, 3, 9, 1, 0), "new")),
    );
    other.ingest(&[]);
    let part = "parquet/messages/year=2026/month=01/day=03";
    std::fs::create_dir_all(env.data.join(part)).unwrap();
    for e in std::fs::read_dir(other.data.join(part)).unwrap().flatten() {
        std::fs::copy(e.path(), env.data.join(part).join(e.file_name())).unwrap();
    }
    std::fs::copy(other.raw_path("2026-01-03"), env.raw_path("2026-01-03")).unwrap();
    std::fs::copy(
        other.data.join("metadata/checkpoints/2026-01-03.json"),
        env.data.join("metadata/checkpoints/2026-01-03.json"),
    )
    .unwrap();
    let v = env.run(&["verify"]);
    v.assert_code(65);
    assert!(v.stdout.contains("msg_id 42 is stored 2 times"), "{v:?}");
    // The repair.
    let aside = env.data.join("aside");
    std::fs::create_dir_all(&aside).unwrap();
    std::fs::rename(env.data.join(part), aside.join("day=03")).unwrap();
    std::fs::rename(
        env.data.join("metadata/checkpoints/2026-01-03.json"),
        aside.join("2026-01-03.json"),
    )
    .unwrap();
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(partitions_of(&env, "42"), ["year=2026/month=01/day=01"]);
    assert_eq!(partitions_of(&env, "43"), ["year=2026/month=01/day=03"]);
    env.run(&["verify"]).assert_code(0);
}

/// Issue 13: an error said its cause twice ("unreadable Parquet file: Parquet error: …").
#[test]
fn regression_an_error_names_its_cause_once() {
    let env = one_message_env();
    env.ingest(&[]);
    let layout = env.layout();
    let key = layout.partitions().unwrap()[0];
    let file = layout.partition_files(key).unwrap().remove(0);
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(40).unwrap();
    let run = env.run(&["query", "--start", "2026-01-20"]);
    run.assert_code(65);
    let first = run.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains(file.to_str().unwrap()),
        "{first}"
    );
    assert!(!run.stderr.contains("Parquet error"), "{}", run.stderr);
    assert!(!run.stderr.contains("caused by"), "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        2,
        "the error and its hint: {}",
        run.stderr
    );
}

#[test]
fn regression_a_file_that_cannot_be_prepared_does_not_hold_back_the_files_before_it() {
    // Files are prepared ahead and committed in groups: a later file whose checkpoint cannot be
    // read must not keep the files before it from being committed (they would be read again,
    // and fail again, on every run).
    let env = TestEnv::new();
    // Day d of January gets message `tag` at 09:00:0n.
    let append = |d: u32, tag: &str, n: u32| {
        let text = msg(tag, shanghai(2026, 1, d, 9, 0, n), "x");
        env.append_raw(&format!("2026-01-{d}"), &text);
    };
    append(20, "a1", 0);
    append(21, "b1", 0);
    env.ingest(&[]);
    append(20, "a2", 1);
    append(21, "b2", 1);
    let layout = env.layout();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
    let broken = layout.checkpoint_path(day(21));
    std::fs::write(&broken, b"{ not a checkpoint").unwrap();
    let run = env.run(&["ingest", "-q"]);
    run.assert_code(65);
    assert!(run.stderr.contains("2026-01-21.json"), "{}", run.stderr);
    let counts = env.id_counts();
    assert_eq!(
        counts.get("a2"),
        Some(&1),
        "the file before the broken one is committed"
    );
    assert_eq!(counts.get("b2"), None);
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.checkpoint_path(day(20))).unwrap()).unwrap();
    assert_eq!(cp["line"], 2, "{cp}");
}
