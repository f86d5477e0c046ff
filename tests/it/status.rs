//! `wxlake status`: counts from footers and checkpoints, compaction needs, unprocessed raw
//! bytes, rejects and the running writer.

use crate::common::*;

fn lake_with_two_rounds(env: &TestEnv) {
    for round in 0..2 {
        let mut text = String::new();
        for i in 0..50 {
            text += &msg(
                &format!("r{round}-{i}"),
                shanghai(2026, 1, 20, 8, 0, 0) + i,
                "hello",
            );
        }
        if round == 0 {
            text += "{\"msg_id\": broken\n";
        }
        env.append_raw("2026-01-20", &text);
        env.ingest(&[]);
    }
}

#[test]
fn status_reports_the_lake_from_footers_and_checkpoints() {
    let env = TestEnv::new();
    lake_with_two_rounds(&env);
    // New lines the collector wrote since the last ingest.
    env.append_raw(
        "2026-01-20",
        &msg("pending", shanghai(2026, 1, 20, 9, 0, 0), "later"),
    );
    let snapshot = env.snapshot();
    let v = env.run(&["status", "--json"]).json();
    assert_eq!(v["partitions"], 1);
    assert_eq!(v["files"], 2);
    assert_eq!(v["rows"], 100);
    assert_eq!(v["codecs"][0]["codec"], "snappy");
    assert_eq!(v["codecs"][0]["tier"], "hot");
    assert_eq!(v["need_compaction"][0], "year=2026/month=01/day=20");
    assert_eq!(v["raw_files_with_unprocessed_bytes"], 1);
    assert!(v["unprocessed_bytes"].as_u64().unwrap() > 50);
    assert_eq!(v["raw_files"][0]["status"], "complete");
    assert!(v["raw_files"][0]["last_ingest"].is_string());
    assert_eq!(v["rejected_lines"], 1);
    assert_eq!(v["writer"], serde_json::Value::Null);
    assert_eq!(v["largest_partitions"][0]["rows"], 100);
    assert_eq!(env.snapshot(), snapshot, "status changes nothing");

    let text = env.run(&["status"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("1 partition, 2 files, 100 rows"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("writer: none running"),
        "{}",
        text.stdout
    );

    let _held = wxlake::lock::LakeLock::acquire(&env.layout().lock_path(), "ingest", None).unwrap();
    let v = env.run(&["status", "--json"]).json();
    assert!(
        v["writer"].as_str().unwrap().contains("running ingest"),
        "{v}"
    );

    TestEnv::new().run(&["status"]).assert_code(64);
}
