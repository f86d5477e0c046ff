//! Regression tests, each named after the defect it pins (issue 11's numbering).

use std::io::Write;
use std::time::{Duration, SystemTime};

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
    let mut seed = 0x5eed_u64;
    let mut killed = 0;
    while !collector.is_finished() {
        let mut child = env
            .command()
            .args(["ingest", "--date", "today", "-q"])
            .spawn()
            .unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(5 + (seed >> 33) % 60));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let status = child.wait().unwrap();
        assert!(status.success() || status.code().is_none(), "{status:?}");
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
