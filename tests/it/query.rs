//! `wxlake query` against an oracle: a generated lake whose messages the test knows, each filter
//! and combination, every format parsed back, ordering, limits, counts, date-time bounds at
//! partition edges, schema-on-read, corrupt files and the error paths.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::common::{Run, TestEnv, shanghai};

/// One message of the test lake, as the collector sent it.
#[derive(Debug, Clone)]
struct Msg {
    id: String,
    time: i64,
    msg_type: Option<i32>,
    from: Option<String>,
    chatroom: Option<String>,
    sender: Option<String>,
    content: Option<String>,
    line: Map<String, Value>,
}

struct Lake {
    env: TestEnv,
    msgs: Vec<Msg>,
}

const BIG: &str = "123456789012345678901234567890";
const ROOMS: [&str; 4] = ["a@chatroom", "b@chatroom", "c@chatroom", ""];
const USERS: [&str; 5] = ["wxid_u1", "wxid_u2", "wxid_u3", "wxid_u4", "wxid_u5"];
const WORDS: [&str; 8] = [
    "hello",
    "Hello, world",
    "HELLO \"quoted\"",
    "你好",
    "line\nbreak",
    "plain",
    "ümlaut Ärger",
    "tab\there",
];

/// A deterministic lake: 500 messages on 2026-01-20 and 2026-01-22, 3,000 on 2026-01-21 (enough
/// for several pages per column), with same-second ties, ids whose byte order differs from their
/// numeric order, ids above 2^63 sent as JSON numbers, nulls, and unknown fields.
fn lake() -> &'static Lake {
    static LAKE: OnceLock<Lake> = OnceLock::new();
    LAKE.get_or_init(|| {
        let env = TestEnv::new();
        let mut msgs = Vec::new();
        let mut rng = crate::common::TestRng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        for (day, count) in [(20u32, 500usize), (21, 3000), (22, 500)] {
            let start = shanghai(2026, 1, day, 0, 0, 0);
            let mut raw = String::new();
            for i in 0..count {
                let r = next();
                let n = msgs.len();
                let id = match n % 7 {
                    0 => (n + 1).to_string(),
                    1 => format!("{}", 9_300_000_000_000_000_000u64 + n as u64),
                    _ => format!("{:x}", r % 0xffff_ffff_ffff).to_string() + &n.to_string(),
                };
                let time = match i {
                    0 => start,
                    1 => start + 86_399,
                    // Every tenth message shares its second with the one before.
                    _ if i % 10 == 0 => msgs.last().map(|m: &Msg| m.time).unwrap(),
                    _ => start + (r % 86_400) as i64,
                };
                let room = ROOMS[(r >> 8) as usize % ROOMS.len()];
                let group = !room.is_empty();
                let user = USERS[((r >> 16) as usize % 13) % USERS.len()].to_string();
                let mut line = Map::new();
                if n % 7 == 1 {
                    line.insert("msg_id".into(), serde_json::from_str(&id).unwrap());
                } else {
                    line.insert("msg_id".into(), json!(id));
                }
                line.insert("create_time".into(), json!(time));
                let msg_type = [Some(1), Some(3), Some(49), None][(r >> 24) as usize % 4];
                if let Some(t) = msg_type {
                    line.insert("msg_type".into(), json!(t));
                }
                let from = if group {
                    room.to_string()
                } else {
                    user.clone()
                };
                line.insert("from_username".into(), json!(from));
                line.insert("to_username".into(), json!("wxid_me"));
                line.insert("chatroom".into(), json!(room));
                let sender = group.then(|| user.clone());
                if let Some(s) = &sender {
                    line.insert("chatroom_sender".into(), json!(s));
                }
                let content = ((r >> 32) % 9 != 0)
                    .then(|| format!("{} #{n}", WORDS[(r >> 40) as usize % WORDS.len()]));
                match &content {
                    Some(c) => line.insert("content".into(), json!(c)),
                    None => line.insert("content".into(), Value::Null),
                };
                if n % 5 == 0 {
                    line.insert("source".into(), json!("<msgsource><a>1</a></msgsource>"));
                }
                if n % 11 == 0 {
                    line.insert("is_self".into(), json!(true));
                    line.insert("big_number".into(), json!("BIG"));
                }
                // serde_json would print the big number as a float: write its digits by hand.
                let text = Value::Object(line.clone()).to_string();
                raw.push_str(&text.replace("\"BIG\"", BIG));
                if let Some(v) = line.get_mut("big_number") {
                    *v = serde_json::from_str(BIG).unwrap();
                }
                raw.push('\n');
                msgs.push(Msg {
                    id,
                    time,
                    msg_type,
                    from: Some(from),
                    chatroom: Some(room.to_string()),
                    sender,
                    content,
                    line,
                });
            }
            env.append_raw(&format!("2026-01-{day}"), &raw);
        }
        let v = env.ingest(&[]);
        assert_eq!(v["written"].as_u64().unwrap() as usize, msgs.len());
        Lake { env, msgs }
    })
}

fn day_range(day: u32) -> (i64, i64) {
    let start = shanghai(2026, 1, day, 0, 0, 0);
    (start, start + 86_400)
}

/// The ids the oracle expects, in (create_time, msg_id bytes) order.
fn expected(lake: &Lake, range: (i64, i64), keep: impl Fn(&Msg) -> bool) -> Vec<String> {
    let mut rows: Vec<&Msg> = lake
        .msgs
        .iter()
        .filter(|m| m.time >= range.0 && m.time < range.1 && keep(m))
        .collect();
    rows.sort_by(|a, b| (a.time, a.id.as_bytes()).cmp(&(b.time, b.id.as_bytes())));
    rows.iter().map(|m| m.id.clone()).collect()
}

/// The msg_ids `wxlake query ARGS` prints.
#[track_caller]
fn query_ids(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["query", "--format", "csv", "--columns", "msg_id"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.assert_code(0);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("msg_id"), "{run:?}");
    lines.map(String::from).collect()
}

#[track_caller]
fn query_count(env: &TestEnv, args: &[&str]) -> usize {
    let mut all = vec!["query", "--count"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.assert_code(0);
    run.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{run:?}"))
}

fn contains(m: &Msg, needle: &str) -> bool {
    m.content.as_deref().is_some_and(|c| c.contains(needle))
}

#[test]
fn each_filter_and_combination_matches_the_oracle() {
    let lake = lake();
    let d21 = day_range(21);
    let all = (day_range(20).0, day_range(22).1);
    let from = |m: &Msg, u: &str| m.from.as_deref() == Some(u) || m.sender.as_deref() == Some(u);
    type Keep = Box<dyn Fn(&Msg) -> bool>;
    let cases: Vec<(Vec<&str>, (i64, i64), Keep)> = vec![
        (vec!["--start", "2026-01-21"], d21, Box::new(|_| true)),
        (
            vec!["--start", "2026-01-20", "--end", "2026-01-22"],
            all,
            Box::new(|_| true),
        ),
        (
            vec!["--start", "2026-01-21", "--chatroom", "a@chatroom"],
            d21,
            Box::new(|m| m.chatroom.as_deref() == Some("a@chatroom")),
        ),
        (
            vec![
                "--start",
                "2026-01-20",
                "--end",
                "2026-01-22",
                "--chatroom",
                "a@chatroom",
                "--chatroom",
                "c@chatroom",
            ],
            all,
            Box::new(|m| matches!(m.chatroom.as_deref(), Some("a@chatroom" | "c@chatroom"))),
        ),
        (
            vec!["--start", "2026-01-21", "--from", "wxid_u2"],
            d21,
            Box::new(move |m| from(m, "wxid_u2")),
        ),
        (
            vec![
                "--start",
                "2026-01-21",
                "--from",
                "wxid_u2",
                "--from",
                "b@chatroom",
            ],
            d21,
            Box::new(move |m| from(m, "wxid_u2") || from(m, "b@chatroom")),
        ),
        (
            vec!["--start", "2026-01-21", "--type", "3"],
            d21,
            Box::new(|m| m.msg_type == Some(3)),
        ),
        (
            vec![
                "--start",
                "2026-01-20",
                "--end",
                "2026-01-22",
                "--type",
                "1",
                "--type",
                "49",
            ],
            all,
            Box::new(|m| matches!(m.msg_type, Some(1 | 49))),
        ),
        (
            vec!["--start", "2026-01-21", "--contains", "hello"],
            d21,
            Box::new(|m| contains(m, "hello")),
        ),
        (
            vec![
                "--start",
                "2026-01-21",
                "--contains",
                "HELLO",
                "--ignore-case",
            ],
            d21,
            Box::new(|m| {
                m.content
                    .as_deref()
                    .is_some_and(|c| c.to_lowercase().contains("hello"))
            }),
        ),
        (
            vec![
                "--start",
                "2026-01-21",
                "--contains",
                "ärger",
                "--ignore-case",
            ],
            d21,
            Box::new(|m| contains(m, "Ärger")),
        ),
        (
            vec![
                "--start",
                "2026-01-21",
                "--contains",
                "你好",
                "--contains",
                "plain",
            ],
            d21,
            Box::new(|m| contains(m, "你好") || contains(m, "plain")),
        ),
        (
            vec![
                "--start",
                "2026-01-20",
                "--end",
                "2026-01-22",
                "--chatroom",
                "a@chatroom",
                "--from",
                "wxid_u1",
                "--type",
                "1",
                "--contains",
                "l",
            ],
            all,
            Box::new(move |m| {
                m.chatroom.as_deref() == Some("a@chatroom")
                    && from(m, "wxid_u1")
                    && m.msg_type == Some(1)
                    && contains(m, "l")
            }),
        ),
        (
            vec!["--start", "2026-01-21", "--chatroom", "nobody@chatroom"],
            d21,
            Box::new(|_| false),
        ),
        (
            vec!["--start", "2026-01-21", "--chatroom", ""],
            d21,
            Box::new(|m| m.chatroom.as_deref() == Some("")),
        ),
        // Edges: the last second of one partition and the first of the next.
        (
            vec![
                "--start",
                "2026-01-20T23:59:59",
                "--end",
                "2026-01-21T00:00:00",
            ],
            (
                shanghai(2026, 1, 20, 23, 59, 59),
                shanghai(2026, 1, 21, 0, 0, 1),
            ),
            Box::new(|_| true),
        ),
        (
            vec!["--start", "2026-01-21T10:00", "--end", "2026-01-21T10:30"],
            (
                shanghai(2026, 1, 21, 10, 0, 0),
                shanghai(2026, 1, 21, 10, 31, 0),
            ),
            Box::new(|_| true),
        ),
        (
            vec!["--start", "2026-01-21T12:00:00"],
            (shanghai(2026, 1, 21, 12, 0, 0), d21.1),
            Box::new(|_| true),
        ),
        (
            vec!["--start", "2026-01-10", "--end", "2026-01-19"],
            all,
            Box::new(|_| false),
        ),
    ];
    for (args, range, keep) in cases {
        let want = expected(lake, range, keep);
        let got = query_ids(&lake.env, &args);
        assert_eq!(got, want, "wxlake query {args:?}");
        assert_eq!(
            query_count(&lake.env, &args),
            want.len(),
            "--count {args:?}"
        );
    }
    // The filter by msg_id: two ids of different days, one outside the range.
    let a = &lake.msgs[600];
    let b = &lake.msgs[10];
    let got = query_ids(
        &lake.env,
        &[
            "--start",
            "2026-01-21",
            "--msg-id",
            &a.id,
            "--msg-id",
            &b.id,
        ],
    );
    assert_eq!(got, std::slice::from_ref(&a.id));
}

#[test]
fn ties_in_a_second_are_ordered_by_msg_id_bytes_and_desc_reverses_both() {
    let lake = lake();
    let want = expected(lake, day_range(21), |_| true);
    let ties = want
        .windows(2)
        .filter(|w| {
            let t = |id: &String| lake.msgs.iter().find(|m| &m.id == id).unwrap().time;
            t(&w[0]) == t(&w[1])
        })
        .count();
    assert!(ties > 100, "the lake has ties ({ties})");
    let mut desc = want.clone();
    desc.reverse();
    assert_eq!(
        query_ids(&lake.env, &["--start", "2026-01-21", "--order", "desc"]),
        desc
    );
    let args = ["--start", "2026-01-20", "--end", "2026-01-22"];
    let all = expected(lake, (day_range(20).0, day_range(22).1), |_| true);
    let mut limited: Vec<&str> = args.to_vec();
    limited.extend(["--limit", "700"]);
    assert_eq!(
        query_ids(&lake.env, &limited),
        all[..700],
        "a limit across partitions"
    );
    limited.extend(["--order", "desc"]);
    let tail: Vec<String> = all.iter().rev().take(700).cloned().collect();
    assert_eq!(query_ids(&lake.env, &limited), tail);
    assert_eq!(
        query_count(&lake.env, &["--start", "2026-01-21", "--limit", "5"]),
        5
    );
    // Days are read on several threads: a limit across them still counts in day order.
    let mut counted: Vec<&str> = args.to_vec();
    counted.extend(["--limit", "600"]);
    assert_eq!(query_count(&lake.env, &counted), 600);
    assert_eq!(query_count(&lake.env, &args), all.len());
    assert_eq!(
        query_ids(&lake.env, &["--start", "2026-01-21", "--limit", "0"]).len(),
        0
    );
}

/// A message as `jsonl` must give it back: the collector's object with msg_id as a string and
/// null known fields dropped.
fn normalized_line(m: &Msg) -> Value {
    let mut line = m.line.clone();
    line.insert("msg_id".into(), json!(m.id));
    line.retain(|_, v| !v.is_null());
    Value::Object(line)
}

#[test]
fn jsonl_and_json_give_back_what_the_collector_sent() {
    let lake = lake();
    let run = lake.env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--end",
        "2026-01-22",
        "--format",
        "jsonl",
    ]);
    run.assert_code(0);
    let got: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let order = expected(lake, (day_range(20).0, day_range(22).1), |_| true);
    assert_eq!(got.len(), order.len());
    for (value, id) in got.iter().zip(&order) {
        let m = lake.msgs.iter().find(|m| &m.id == id).unwrap();
        assert_eq!(value, &normalized_line(m), "message {id}");
    }
    // The big number keeps its digits (serde_json would have made it a float).
    assert!(
        run.stdout
            .contains("\"big_number\":123456789012345678901234567890")
    );

    let run = lake.env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--end",
        "2026-01-22",
        "--format",
        "json",
    ]);
    run.assert_code(0);
    let array: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(array, got);
    let empty = lake
        .env
        .run(&["query", "--start", "2026-01-01", "--format", "json"]);
    assert_eq!(empty.stdout, "[]\n");
}

/// A small RFC 4180 reader for the test.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn csv_parses_back_to_the_same_rows_with_local_times() {
    let lake = lake();
    let args = ["query", "--start", "2026-01-21", "--chatroom", "b@chatroom"];
    let jsonl = lake.env.run(&args);
    let rows: Vec<Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut csv_args = args.to_vec();
    csv_args.extend(["--format", "csv"]);
    let csv = lake.env.run(&csv_args);
    csv.assert_code(0);
    let table = parse_csv(&csv.stdout);
    let header = &table[0];
    assert_eq!(header.join(","), wxlake::record::SENT_COLUMNS.join(","));
    assert_eq!(table.len() - 1, rows.len());
    assert!(rows.len() > 100);
    for (cells, value) in table[1..].iter().zip(&rows) {
        for (name, cell) in header.iter().zip(cells) {
            let want = match (name.as_str(), &value[name]) {
                ("create_time", v) => {
                    let t = chrono::DateTime::from_timestamp(v.as_i64().unwrap(), 0).unwrap();
                    t.with_timezone(&crate::common::SHANGHAI)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string()
                }
                ("extra_fields", _) => {
                    let extra: Map<String, Value> = value
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(k, _)| !wxlake::record::SENT_COLUMNS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if extra.is_empty() {
                        String::new()
                    } else {
                        // Compare as JSON: the digits of big numbers survive either way.
                        let parsed: Value = serde_json::from_str(cell).unwrap();
                        assert_eq!(parsed, Value::Object(extra));
                        cell.clone()
                    }
                }
                (_, Value::Null) => String::new(),
                (_, Value::String(s)) => s.clone(),
                (_, v) => v.to_string(),
            };
            assert_eq!(cell, &want, "column {name} of {}", value["msg_id"]);
        }
    }
}

#[test]
fn parquet_export_needs_a_file_and_holds_the_rows() {
    let lake = lake();
    let run = lake
        .env
        .run(&["query", "--start", "2026-01-21", "--format", "parquet"]);
    run.assert_code(64);
    assert!(run.stderr.contains("--output"), "{}", run.stderr);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("day.parquet");
    let run = lake.env.run(&[
        "query",
        "--start",
        "2026-01-21",
        "--type",
        "3",
        "--output",
        out.to_str().unwrap(),
    ]);
    run.assert_code(0);
    assert_eq!(run.stdout, "");
    let mut ids = Vec::new();
    wxlake::lake::reader::for_each_msg_id(&out, |id| ids.push(id.to_string())).unwrap();
    assert_eq!(
        ids,
        expected(lake, day_range(21), |m| m.msg_type == Some(3))
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["day.parquet"], "no temp file is left behind");
}

#[test]
fn table_fits_the_terminal_width_and_counts_rows() {
    let lake = lake();
    let run = lake
        .env
        .command()
        .env("COLUMNS", "70")
        .args([
            "query",
            "--start",
            "2026-01-21",
            "--format",
            "table",
            "--limit",
            "50",
        ])
        .args(["--columns", "create_time,chatroom,content"])
        .output()
        .unwrap();
    let run = Run::from(run);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("create_time"), "{}", run.stdout);
    assert_eq!(*lines.last().unwrap(), "(50 rows)");
    assert_eq!(lines.len(), 50 + 3);
    for line in &lines {
        let width: usize = line
            .chars()
            .map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0))
            .sum();
        assert!(width <= 70, "{width} columns: {line}");
    }
    assert!(
        lines[2].contains("+08:00"),
        "local time with offset: {}",
        lines[2]
    );
    assert!(
        !run.stdout.contains('\t'),
        "control characters are not printed raw"
    );
    assert!(
        !run.stdout.contains('\x1b'),
        "no ANSI colour when not a terminal"
    );
}

/// The `query done` debug event of a run with `-v --log-format json`.
fn scan_stats(run: &Run) -> Value {
    run.stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "query done")
        .map(|v| v["fields"].clone())
        .unwrap_or_else(|| panic!("no query done event: {}", run.stderr))
}

#[test]
fn statistics_and_the_page_index_skip_what_cannot_match() {
    let lake = lake();
    let args = [
        "-v",
        "--log-format",
        "json",
        "query",
        "--start",
        "2026-01-21",
    ];
    let mut with_room = args.to_vec();
    with_room.extend(["--chatroom", "b@chatroom", "--count"]);
    let run = lake.env.run(&with_room);
    run.assert_code(0);
    let stats = scan_stats(&run);
    assert_eq!(stats["partitions"], 1, "{stats}");
    let skipped = stats["rows_skipped_by_page_index"].as_u64().unwrap();
    assert!(
        skipped >= 1024,
        "the pages of other chatrooms are skipped: {stats}"
    );
    let want = expected(lake, day_range(21), |m| {
        m.chatroom.as_deref() == Some("b@chatroom")
    });
    assert_eq!(run.stdout.trim(), want.len().to_string());

    // A chatroom outside every row group's [min, max] skips the row groups themselves.
    let mut none = args.to_vec();
    none.extend(["--chatroom", "zzz@chatroom", "--count"]);
    let stats = scan_stats(&lake.env.run(&none));
    assert_eq!(stats["row_groups_skipped"], stats["row_groups"], "{stats}");

    // A range inside one hour reads pages of that hour only... per chatroom run; at least the
    // other partitions are never opened.
    let mut hour = args.to_vec();
    hour.extend(["--end", "2026-01-22", "--count"]);
    let stats = scan_stats(&lake.env.run(&hour));
    assert_eq!(stats["partitions"], 2, "{stats}");
}

/// A small lake of three days, one message each, for the tests that damage it.
fn small_lake() -> TestEnv {
    let env = TestEnv::new();
    for (day, id) in [(20, "m20"), (21, "m21"), (22, "m22")] {
        env.append_raw(
            &format!("2026-01-{day}"),
            &crate::common::msg(id, shanghai(2026, 1, day, 12, 0, 0), "hi"),
        );
    }
    env.ingest(&[]);
    env
}

fn partition(env: &TestEnv, day: u32) -> std::path::PathBuf {
    env.data
        .join(format!("parquet/messages/year=2026/month=01/day={day}"))
}

#[test]
fn only_the_partitions_of_the_range_are_read() {
    let env = small_lake();
    // Damage every other day: a query of the 21st must not notice.
    fs::write(
        partition(&env, 20).join("zz-garbage.parquet"),
        b"not parquet",
    )
    .unwrap();
    fs::write(
        partition(&env, 22).join("zz-garbage.parquet"),
        b"not parquet",
    )
    .unwrap();
    fs::create_dir_all(env.data.join("parquet/messages/year=2031")).unwrap();
    fs::write(
        env.data.join("parquet/messages/year=2031/month=01"),
        b"a file, not a dir",
    )
    .unwrap();
    assert_eq!(query_ids(&env, &["--start", "2026-01-21"]), ["m21"]);
}

#[test]
fn a_corrupt_file_is_named_and_skip_corrupt_goes_past_it() {
    let env = small_lake();
    let dir = partition(&env, 21);
    let good = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let bytes = fs::read(&good).unwrap();
    let truncated = dir.join("truncated.parquet");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let run = env.run(&["query", "--start", "2026-01-21"]);
    run.assert_code(65);
    assert!(run.stderr.contains("truncated.parquet"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing is printed before the error");

    let run = env.run(&["query", "--start", "2026-01-21", "--skip-corrupt"]);
    run.assert_code(0);
    assert!(run.stdout.contains("\"m21\""), "{run:?}");
    assert!(
        run.stderr.contains("WARN") && run.stderr.contains("truncated.parquet"),
        "{}",
        run.stderr
    );

    // A file whose footer is fine but whose pages are garbage.
    fs::remove_file(&truncated).unwrap();
    let mut damaged = bytes.clone();
    for b in &mut damaged[4..bytes.len() / 2] {
        *b = 0x5a;
    }
    fs::write(dir.join("damaged.parquet"), &damaged).unwrap();
    let out = env.data.join("export.csv");
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-21",
        "--output",
        out.to_str().unwrap(),
    ]);
    run.assert_code(65);
    assert!(run.stderr.contains("damaged.parquet"), "{}", run.stderr);
    assert!(!out.exists(), "a failed export leaves no file");
    let leftovers: Vec<_> = fs::read_dir(&env.data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn files_of_older_and_newer_schema_versions_read_fine() {
    let env = small_lake();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema");
    for name in ["older-no-source.parquet", "newer-extra-column.parquet"] {
        fs::copy(fixtures.join(name), partition(&env, 20).join(name)).unwrap();
    }
    let run = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--chatroom",
        "fixture@chatroom",
    ]);
    run.assert_code(0);
    let rows: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 6, "{run:?}");
    let old: Vec<&Value> = rows
        .iter()
        .filter(|r| r["content"].as_str().unwrap().contains("v0"))
        .collect();
    assert_eq!(old.len(), 3);
    assert!(
        old.iter().all(|r| r.get("source").is_none()),
        "a missing column reads as null"
    );
    let new: Vec<&Value> = rows
        .iter()
        .filter(|r| r["content"].as_str().unwrap().contains("v2"))
        .collect();
    assert!(
        new.iter()
            .all(|r| r["source"] == "<msgsource/>" && r.get("reply_to").is_none())
    );
    assert_eq!(
        new[0]["is_self"], true,
        "extra fields of the newer file merged back"
    );
    // Filters on a column the old file lacks: no match there, no error.
    let csv = env.run(&[
        "query",
        "--start",
        "2026-01-20",
        "--format",
        "csv",
        "--columns",
        "msg_id,source",
        "--chatroom",
        "fixture@chatroom",
        "--limit",
        "2",
    ]);
    assert_eq!(
        csv.stdout,
        "msg_id,source\nfixture-0-0,\nfixture-2-0,<msgsource/>\n"
    );
}

#[test]
fn bad_arguments_and_missing_lakes_are_usage_errors() {
    let env = small_lake();
    for (args, needle) in [
        (
            vec!["query", "--start", "2026-01-21", "--end", "2026-01-20"],
            "--end",
        ),
        (vec!["query", "--start", "2026-02-30"], "--start"),
        (vec!["query", "--start", "2026-01-21T25:00"], "--start"),
        (
            vec!["query", "--start", "2026-01-21", "--columns", "msg_id,nope"],
            "nope",
        ),
        (
            vec![
                "query",
                "--start",
                "2026-01-21",
                "--columns",
                "msg_id,msg_id",
            ],
            "twice",
        ),
        (
            vec!["query", "--start", "2026-01-21", "--ignore-case"],
            "--contains",
        ),
        (
            vec!["query", "--start", "2026-01-21", "--type", "x"],
            "--type",
        ),
        (vec!["query", "--end", "2026-01-21"], "--start"),
        (
            vec!["--timezone", "UTC", "query", "--start", "2026-01-21"],
            "Asia/Shanghai",
        ),
    ] {
        let run = env.run(&args);
        run.assert_code(64);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    let nowhere = TestEnv::new();
    let run = nowhere.run(&["query", "--start", "today"]);
    run.assert_code(64);
    assert!(run.stderr.contains("no wxlake lake at"), "{}", run.stderr);
    assert!(run.stderr.contains("--data-dir"), "{}", run.stderr);
}

#[test]
fn a_closed_pipe_ends_the_query_quietly() {
    let lake = lake();
    let mut child = lake
        .env
        .command()
        .args([
            "query",
            "--start",
            "2026-01-20",
            "--end",
            "2026-01-22",
            "--format",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_query_during_an_ingest_sees_every_earlier_message_once() {
    let env = small_lake();
    let before: BTreeSet<String> = ["m20", "m21", "m22"].map(String::from).into();
    let mut raw = String::new();
    for i in 0..3000 {
        let t = shanghai(2026, 1, 21, 0, 0, 0) + i * 20;
        raw.push_str(&crate::common::msg(&format!("new{i}"), t, "more"));
    }
    env.append_raw("2026-01-21", &raw);
    let mut ingest = env.command().args(["-q", "ingest"]).spawn().unwrap();
    let mut rounds = 0;
    loop {
        let ids = query_ids(&env, &["--start", "2026-01-20", "--end", "2026-01-22"]);
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "no message twice");
        assert!(set.is_superset(&before), "no earlier message missing");
        rounds += 1;
        if ingest.try_wait().unwrap().is_some() && rounds > 3 {
            break;
        }
    }
    assert!(ingest.wait().unwrap().success());
    assert_eq!(
        query_count(&env, &["--start", "2026-01-20", "--end", "2026-01-22"]),
        3003
    );
}

/// Quote `s` for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn on_a_terminal_the_default_is_a_table_that_fits_it() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` (to run under a pseudo-terminal) is missing");
        return;
    }
    let lake = lake();
    let cmd = format!(
        "stty cols 72 rows 40; {} --data-dir {} query --start 2026-01-21 --limit 5",
        sh_quote(env!("CARGO_BIN_EXE_wxlake")),
        sh_quote(lake.env.data.to_str().unwrap())
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("create_time"),
        "a table, not jsonl: {text}"
    );
    assert!(lines[1].starts_with('─'), "{text}");
    assert_eq!(*lines.last().unwrap(), "(5 rows)");
    for line in &lines {
        let width: usize = line
            .chars()
            .map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0))
            .sum();
        assert!(width <= 72, "wider than the terminal: {width}: {line}");
    }
}
