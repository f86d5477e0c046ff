//! `wxlake contacts` and names in `wxlake query`: resolved from contact records as of each
//! message's time.

use serde_json::{Value, json};

use crate::common::*;

/// A day with a group, two renames and an ambiguous nickname.
fn fixture() -> TestEnv {
    let env = TestEnv::new();
    let t = |h| shanghai(2026, 1, 20, h, 0, 0);
    let group = |id: &str, at: i64, sender: &str, text: &str| {
        json!({"msg_id": id, "create_time": at, "msg_type": 1, "from_username": "9@chatroom",
               "chatroom": "9@chatroom", "chatroom_sender": sender, "content": text})
    };
    let mut text = String::new();
    text += &contact_update("c0", "9@chatroom", "技术群", None);
    text += &contact_update("c1", "wxid_a", "王伟", None);
    text += &contact_update("c2", "wxid_b", "张伟", None);
    text += &contact_update("c3", "wxid_c", "张伟", Some("小张"));
    text += &envelope("m1", 1010, group("1", t(9), "wxid_a", "早上好"));
    text += &envelope("m2", 1010, group("2", t(10), "wxid_b", "你好"));
    text += &contact_update("c4", "wxid_a", "王伟2", Some("老王"));
    text += &envelope("m3", 1010, group("3", t(11), "wxid_a", "改名了"));
    text += &envelope(
        "m4",
        1010,
        json!({"msg_id": "4", "create_time": t(12), "msg_type": 1,
        "from_username": "wxid_unknown", "to_username": "wxid_me", "content": "私聊"}),
    );
    text += &envelope(
        "c5",
        1201,
        json!({"userName": {"string": "wxid_b"}, "deleteContactScene": 0}),
    );
    env.append_raw("2026-01-20", &text);
    env.ingest(&[]);
    env
}

fn jsonl(run: &Run) -> Vec<Value> {
    run.assert_code(0);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn contacts_lists_latest_names_history_and_as_of() {
    let env = fixture();
    let latest = jsonl(&env.run(&["contacts"]));
    let by_user =
        |rows: &[Value], u: &str| rows.iter().find(|r| r["username"] == u).cloned().unwrap();
    assert_eq!(latest.len(), 4);
    let a = by_user(&latest, "wxid_a");
    assert_eq!(
        (
            a["display_name"].as_str(),
            a["nickname"].as_str(),
            a["remark"].as_str()
        ),
        (Some("老王"), Some("王伟2"), Some("老王"))
    );
    assert_eq!(a["kind"], "person");
    assert_eq!(by_user(&latest, "9@chatroom")["kind"], "chatroom");
    assert_eq!(by_user(&latest, "wxid_b")["deleted"], true);
    assert_eq!(by_user(&latest, "wxid_c")["display_name"], "小张");
    // Every version, with what changed it.
    let history = jsonl(&env.run(&["contacts", "--history"]));
    let a: Vec<&Value> = history
        .iter()
        .filter(|r| r["username"] == "wxid_a")
        .collect();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0]["display_name"].as_str(), a[1]["display_name"].as_str()),
        (Some("王伟"), Some("老王"))
    );
    assert_eq!(
        history.iter().filter(|r| r["action"] == "delete").count(),
        1
    );
    // As of 09:30 wxid_a was still 王伟 (renamed after the 10:00 message) and wxid_b not yet
    // deleted.
    let then = jsonl(&env.run(&["contacts", "--as-of", "2026-01-20T09:30"]));
    assert_eq!(by_user(&then, "wxid_a")["display_name"], "王伟");
    assert_eq!(by_user(&then, "wxid_b")["deleted"], false);
    let search = jsonl(&env.run(&["contacts", "--search", "张"]));
    let mut users: Vec<&str> = search
        .iter()
        .map(|r| r["username"].as_str().unwrap())
        .collect();
    users.sort();
    assert_eq!(users, ["wxid_b", "wxid_c"]);
    let csv = env.run(&["contacts", "--format", "csv"]);
    csv.assert_code(0);
    assert!(
        csv.stdout.starts_with("username,kind,display_name,"),
        "{}",
        csv.stdout
    );
}

#[test]
fn query_names_senders_and_chatrooms_as_of_each_message() {
    let env = fixture();
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--columns",
        "msg_id,sender_name,chatroom_name",
        "--format",
        "jsonl",
    ]);
    let rows = jsonl(&run);
    let names: Vec<(&str, Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r["msg_id"].as_str().unwrap(),
                r["sender_name"].as_str(),
                r["chatroom_name"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("1", Some("王伟"), Some("技术群")),
            ("2", Some("张伟"), Some("技术群")),
            ("3", Some("老王"), Some("技术群")),
            // Nobody names wxid_unknown: its id; a private chat has no chatroom.
            ("4", Some("wxid_unknown"), None),
        ]
    );
    // The default export adds no keys; the table shows names by default.
    let plain = jsonl(&env.run(&["query", "--start", "2026-01-20"]));
    assert!(
        plain
            .iter()
            .all(|r| r.get("sender_name").is_none() && r.get("chatroom_name").is_none())
    );
    let table = env.run(&["query", "--start", "2026-01-20", "--format", "table"]);
    table.assert_code(0);
    assert!(
        table.stdout.contains("老王") && table.stdout.contains("技术群"),
        "{}",
        table.stdout
    );
}

#[test]
fn chatroom_and_from_take_names_current_or_past() {
    let env = fixture();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec![
            "query",
            "--start",
            "2026-01-20",
            "--columns",
            "msg_id",
            "--format",
            "jsonl",
        ];
        all.extend_from_slice(args);
        jsonl(&env.run(&all))
            .iter()
            .map(|r| r["msg_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["--chatroom", "技术群"]), ["1", "2", "3"]);
    assert_eq!(ids(&["--from", "老王"]), ["1", "3"]);
    assert_eq!(ids(&["--from", "王伟"]), ["1", "3"], "a past nickname");
    assert_eq!(ids(&["--from", "小张"]), Vec::<String>::new());
    assert_eq!(ids(&["--from", "wxid_a"]), ["1", "3"]);
    // Two people are called 张伟: a usage error naming both.
    let run = env.run(&["query", "--start", "2026-01-20", "--from", "张伟"]);
    run.assert_code(64);
    assert!(
        run.stderr.contains("wxid_b") && run.stderr.contains("wxid_c"),
        "{}",
        run.stderr
    );
    // Nobody is called this: no rows, and a hint.
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--chatroom",
        "不存在的群",
        "--count",
    ]);
    run.assert_code(0);
    assert_eq!(run.stdout.trim(), "0");
    assert!(
        run.stderr.contains("wxlake contacts --search"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_and_verify_cover_the_contacts_and_events_tables() {
    let env = fixture();
    let status = env.run(&["status", "--json"]);
    status.assert_code(0);
    let s = status.json();
    assert_eq!(
        (s["contacts"]["rows"].as_u64(), s["events"]["rows"].as_u64()),
        (Some(6), Some(0))
    );
    assert!(
        env.run(&["status"])
            .stdout
            .contains("contacts: 6 rows in 1 file")
    );
    let v = env.run(&["verify", "--json"]);
    v.assert_code(0);
    assert_eq!(v.json()["contact_rows"], 6);
    // A contacts file copied under another name stores every record twice: verify says so.
    let dir = env.data.join("parquet/contacts");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&file, dir.join("part-copy-000.parquet")).unwrap();
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let v = env.run(&["verify"]);
    v.assert_code(65);
    assert!(
        v.stdout
            .contains("record_keys stored twice in the contacts table"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("notes.txt: not a data file"),
        "{}",
        v.stdout
    );
}

/// A lake whose contacts table has one file per ingest run (three runs).
fn fragmented() -> TestEnv {
    let env = TestEnv::new();
    for (i, name) in ["甲", "乙", "丙"].iter().enumerate() {
        let t = shanghai(2026, 1, 20, 9 + i as u32, 0, 0);
        let mut text = contact_update(&format!("c{i}"), &format!("wxid_{i}"), name, None);
        text += &msg(&i.to_string(), t, "hi");
        text += &envelope(&format!("e{i}"), 1003, json!({"i": i}));
        env.append_raw("2026-01-20", &text);
        env.ingest(&[]);
    }
    env
}

#[test]
fn compact_merges_the_contacts_and_events_tables_atomically() {
    let env = fragmented();
    let files = |t: &str| {
        std::fs::read_dir(env.data.join("parquet").join(t))
            .unwrap()
            .count()
    };
    assert_eq!((files("contacts"), files("events")), (3, 3));
    let before = jsonl(&env.run(&["contacts", "--history"]));
    let dry = env.run(&["compact", "--dry-run"]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("contacts table: its files would be merged"),
        "{}",
        dry.stdout
    );
    assert_eq!(files("contacts"), 3);
    let run = env.run(&["compact"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("contacts table: 3 files"),
        "{}",
        run.stdout
    );
    assert_eq!((files("contacts"), files("events")), (1, 1));
    assert_eq!(jsonl(&env.run(&["contacts", "--history"])), before);
    let mut keys = env.side_column("events", "record_key");
    keys.sort();
    assert_eq!(keys, ["e0", "e1", "e2"]);
    env.run(&["verify"]).assert_code(0);
    // Nothing left to do.
    assert!(!env.run(&["compact", "--dry-run"]).stdout.contains("table:"));
}

#[test]
fn a_compaction_of_the_contacts_table_killed_at_each_step_loses_nothing() {
    for fp in [
        "compact.staged",
        "compact.journaled",
        "compact.swapped",
        "compact.cleaned",
    ] {
        let env = fragmented();
        let before = jsonl(&env.run(&["contacts", "--history"]));
        let run: Run = env
            .command()
            .arg("compact")
            .env("WXLAKE_FAILPOINTS", fp)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, None, "{fp}: the process must die: {run:?}");
        assert!(run.stderr.contains(fp), "{fp}: {}", run.stderr);
        // The next writer recovers; every record is there exactly once either way.
        env.run(&["compact"]).assert_code(0);
        assert_eq!(jsonl(&env.run(&["contacts", "--history"])), before, "{fp}");
        let mut keys = env.side_column("contacts", "record_key");
        keys.sort();
        assert_eq!(keys, ["c0", "c1", "c2"], "{fp}");
        env.run(&["verify"]).assert_code(0);
    }
}
