//! Issue 12: what messages mean. Ingest derives each message's kind and facts (schema version
//! 3); query filters and shows them; `migrate` rewrites version-1 and version-2 partitions, also
//! when killed at any instant; older files answer the same before and after.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::{Run, TestEnv, envelope, shanghai};

const LINK: &str = "<?xml version=\"1.0\"?>\n<msg>\n\t<appmsg appid=\"\" sdkver=\"0\">\n\t\t<title>一文读懂数据湖</title>\n\t\t<type>5</type>\n\t\t<url>https://mp.weixin.qq.com/s?__biz=x&amp;mid=1</url>\n\t</appmsg>\n</msg>";
const FILE: &str = "<msg><appmsg><title>季度报告.pdf</title><type>6</type><appattach><totallen>471234</totallen></appattach></appmsg></msg>";
const QUOTE: &str = "<msg><appmsg><title>同意楼上</title><type>57</type><refermsg><svrid>7654321098765432101</svrid><content>周末去吗</content></refermsg></appmsg></msg>";
const RECALL: &str = "<sysmsg type=\"revokemsg\"><revokemsg><newmsgid>9019246177609020522</newmsgid><replacemsg><![CDATA[\"王伟\" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>";
const LOCATION: &str =
    "<msg><location x=\"31.2\" y=\"121.4\" label=\"上海市黄浦区\" poiname=\"人民广场\" /></msg>";
const MENTIONS: &str = "<msgsource><atuserlist><![CDATA[,wxid_b,wxid_c]]></atuserlist></msgsource>";

/// (msg_id, msg_type as sent, chatroom, chatroom_sender, content, source)
type Sent = (
    &'static str,
    Value,
    &'static str,
    &'static str,
    String,
    &'static str,
);

fn messages() -> Vec<Sent> {
    let quote_packed = json!(57_i64 << 32 | 49);
    vec![
        (
            "1",
            json!(1),
            "r@chatroom",
            "wxid_a",
            "@王 看一下".into(),
            MENTIONS,
        ),
        (
            "2",
            json!(1),
            "r@chatroom",
            "",
            "wxid_p:\n大家好\n第二行".into(),
            "",
        ),
        (
            "3",
            json!(49),
            "r@chatroom",
            "wxid_a",
            format!("wxid_a:\n{LINK}"),
            "",
        ),
        ("4", json!(49), "", "", FILE.into(), ""),
        ("5", json!(49), "r@chatroom", "wxid_a", QUOTE.into(), ""),
        ("6", quote_packed, "", "", QUOTE.into(), ""),
        (
            "7",
            json!(3),
            "",
            "",
            "<msg><img length=\"1\"/></msg>".into(),
            "",
        ),
        ("8", json!(10002), "r@chatroom", "wxid_a", RECALL.into(), ""),
        ("9", json!(48), "", "", LOCATION.into(), ""),
        (
            "10",
            json!(49),
            "",
            "",
            "<msg><appmsg><title>x</title><type>5".into(),
            "",
        ),
        (
            "11",
            json!(10000),
            "r@chatroom",
            "",
            "\"王伟\"邀请你加入了群聊".into(),
            "",
        ),
    ]
}

/// A lake of [`messages`], one a minute from 2026-02-03 09:30 (Asia/Shanghai), as envelopes.
fn kinds_lake() -> TestEnv {
    let env = TestEnv::new();
    let mut raw = String::new();
    for (i, (id, t, room, sender, content, source)) in messages().into_iter().enumerate() {
        let mut data = json!({
            "msg_id": id,
            "create_time": shanghai(2026, 2, 3, 9, 30 + i as u32, 0),
            "msg_type": t,
            "from_username": if room.is_empty() { "wxid_friend" } else { room },
            "to_username": "wxid_me",
            "chatroom": room,
            "chatroom_sender": sender,
            "content": content,
        });
        if !source.is_empty() {
            data["source"] = json!(source);
        }
        raw.push_str(&envelope(&format!("g{id}"), 1010, data));
    }
    env.append_raw("2026-02-03", &raw);
    let v = env.ingest(&[]);
    assert_eq!(v["written"], 11, "{v}");
    assert_eq!(v["xml_unparsed"], 1, "the broken card is counted: {v}");
    env
}

fn query(env: &TestEnv, args: &[&str]) -> Run {
    let mut all = vec!["query", "--start", "2026-02-03"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.assert_code(0);
    run
}

/// msg_id → the row's object, from `--format jsonl`.
fn by_id(run: &Run) -> BTreeMap<String, Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["msg_id"].as_str().unwrap().to_string(), v))
        .collect()
}

const DERIVED: &str = "msg_id,msg_type,chatroom_sender,kind,app_type,title,url,file_size,quoted_msg_id,revoked_msg_id,mentions,text";

#[test]
fn every_kind_is_derived_at_ingest_and_every_column_is_queried() {
    let env = kinds_lake();
    let rows = by_id(&query(&env, &["--format", "jsonl", "--columns", DERIVED]));
    let get = |id: &str, col: &str| rows[id].get(col).cloned().unwrap_or(Value::Null);
    let kinds: Vec<(String, Value)> = rows
        .keys()
        .map(|id| (id.clone(), get(id, "kind")))
        .collect();
    let want = [
        ("1", "text"),
        ("10", "other"),
        ("11", "system"),
        ("2", "text"),
        ("3", "link"),
        ("4", "file"),
        ("5", "quote"),
        ("6", "quote"),
        ("7", "image"),
        ("8", "recall"),
        ("9", "location"),
    ];
    assert_eq!(
        kinds,
        want.map(|(id, k)| (id.to_string(), json!(k))).to_vec()
    );
    assert_eq!(get("1", "mentions"), json!(["wxid_b", "wxid_c"]));
    assert_eq!(
        get("2", "chatroom_sender"),
        json!("wxid_p"),
        "filled from the prefix"
    );
    assert_eq!(get("2", "text"), json!("大家好\n第二行"));
    assert_eq!(
        get("3", "url"),
        json!("https://mp.weixin.qq.com/s?__biz=x&mid=1")
    );
    assert_eq!(
        get("3", "text"),
        json!("[link] 一文读懂数据湖 https://mp.weixin.qq.com/s?__biz=x&mid=1")
    );
    assert_eq!(
        (
            get("4", "file_size"),
            get("4", "title"),
            get("4", "app_type")
        ),
        (json!(471234), json!("季度报告.pdf"), json!(6))
    );
    assert_eq!(get("4", "text"), json!("[file] 季度报告.pdf (471 KB)"));
    assert_eq!(get("5", "quoted_msg_id"), json!("7654321098765432101"));
    assert_eq!(get("5", "text"), json!("[quote] 同意楼上 ↩ 周末去吗"));
    // The 4.x packed type: split, not a type conflict; the other columns as for 3.x.
    assert_eq!(
        (get("6", "msg_type"), get("6", "app_type")),
        (json!(49), json!(57))
    );
    assert_eq!(get("7", "text"), json!("[image]"));
    assert_eq!(get("8", "revoked_msg_id"), json!("9019246177609020522"));
    assert_eq!(get("8", "text"), json!("[recall] \"王伟\" 撤回了一条消息"));
    assert_eq!(get("9", "title"), json!("人民广场"));
    assert_eq!(
        (get("10", "app_type"), get("10", "text")),
        (Value::Null, Value::Null)
    );

    // Filters.
    let count = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--count");
        query(&env, &all).stdout.trim().to_string()
    };
    assert_eq!(count(&["--kind", "quote"]), "2");
    assert_eq!(count(&["--kind", "link", "--kind", "file"]), "2");
    assert_eq!(count(&["--mentions", "wxid_c"]), "1");
    assert_eq!(count(&["--mentions", "wxid_c", "--kind", "link"]), "0");
    assert_eq!(count(&["--type", "49"]), "5", "the packed quote is a 49");
    let bad = env.run(&["query", "--start", "2026-02-03", "--kind", "gif"]);
    bad.assert_code(64);
    assert!(bad.stderr.contains("mini_program"), "{}", bad.stderr);
}

#[test]
fn the_table_and_the_transcript_show_text_never_xml() {
    let env = kinds_lake();
    let table = query(&env, &["--format", "table"]);
    for xml in ["<msg", "<?xml", "<sysmsg", "<appmsg"] {
        assert!(!table.stdout.contains(xml), "{xml} in\n{}", table.stdout);
    }
    assert!(table.stdout.contains("[link]"), "{}", table.stdout);
    assert!(table.stdout.contains("(11 rows)"), "{}", table.stdout);

    let transcript = query(&env, &["--format", "transcript"]);
    let lines: Vec<&str> = transcript.stdout.lines().collect();
    assert_eq!(lines.len(), 11, "{}", transcript.stdout);
    assert_eq!(
        lines[1],
        "2026-02-03 09:31 [r@chatroom] wxid_p: 大家好 ⏎ 第二行"
    );
    assert_eq!(
        lines[3],
        "2026-02-03 09:33 wxid_friend: [file] 季度报告.pdf (471 KB)"
    );
    let cols = env.run(&[
        "query",
        "--start",
        "2026-02-03",
        "--format",
        "transcript",
        "--columns",
        "text",
    ]);
    cols.assert_code(64);
}

#[test]
fn jsonl_gives_back_what_the_collector_sent() {
    let env = kinds_lake();
    let rows = by_id(&query(&env, &["--format", "jsonl"]));
    for (id, t, _, sender, content, _) in messages() {
        let row = &rows[id];
        assert_eq!(row["msg_type"], t, "{id}: the number as sent");
        assert_eq!(row["chatroom_sender"], json!(sender), "{id}: as sent");
        assert_eq!(row["content"], json!(content), "{id}");
        for derived in ["kind", "text", "as_sent", "app_type", "mentions"] {
            assert!(
                row.get(derived).is_none(),
                "{id}: {derived} not asked for: {row}"
            );
        }
    }
}

/// Rewrite partition files as older versions wrote them: 2026-02-03 as version 1, 2026-02-04
/// as version 2.
fn make_legacy(env: &TestEnv) {
    let layout = env.layout();
    for key in layout.partitions().unwrap() {
        let version = if key.date().to_string() == "2026-02-03" {
            1
        } else {
            2
        };
        for file in layout.partition_files(key).unwrap() {
            wxlake::lake::legacy::rewrite_as_version(&file, version, "Asia/Shanghai").unwrap();
        }
    }
}

/// The kinds lake plus a second day of generated-like messages, in two files per partition.
fn legacy_lake() -> TestEnv {
    let env = kinds_lake();
    let mut raw = String::new();
    for i in 0..40u32 {
        let data = json!({
            "msg_id": format!("d{i}"),
            "create_time": shanghai(2026, 2, 4, 8, i, 0),
            "msg_type": if i % 4 == 0 { json!(6_i64 << 32 | 49) } else { json!(1) },
            "from_username": "g@chatroom",
            "chatroom": "g@chatroom",
            "chatroom_sender": "",
            "content": if i % 4 == 0 { FILE.to_string() } else { format!("wxid_u{i}:\n第{i}条") },
        });
        raw.push_str(&envelope(&format!("h{i}"), 1010, data));
    }
    env.append_raw("2026-02-04", &raw);
    env.ingest(&[]);
    make_legacy(&env);
    env
}

fn versions(env: &TestEnv) -> Vec<(u64, u64)> {
    let v = env.run(&["status", "--json"]).json();
    v["schema_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["files"].as_u64().unwrap()))
        .collect()
}

#[test]
fn migrate_brings_version_1_and_2_partitions_to_version_3_and_answers_do_not_change() {
    let env = legacy_lake();
    assert_eq!(
        versions(&env).iter().map(|v| v.0).collect::<Vec<_>>(),
        [1, 2]
    );
    let answers = |env: &TestEnv| {
        (
            query(
                env,
                &[
                    "--end",
                    "2026-02-04",
                    "--format",
                    "csv",
                    "--columns",
                    DERIVED,
                ],
            )
            .stdout,
            // The same objects (a packed msg_type's key may come at another place).
            by_id(&query(env, &["--end", "2026-02-04", "--format", "jsonl"])),
            query(env, &["--end", "2026-02-04", "--kind", "file", "--count"]).stdout,
            // Filters an upgrade may change the answer of (a packed type, a filled sender),
            // and a count whose format shows derived columns (the review of issue 12: such a
            // count on an old file failed with "no msg_id column").
            [
                &["--type", "49", "--count"][..],
                &["--from", "wxid_u1", "--count"],
                &["--type", "49", "--kind", "quote", "--count"],
                &["--chatroom", "g@chatroom", "--format", "table", "--count"],
                &["--format", "transcript", "--count"],
            ]
            .map(|args| {
                let mut all = vec!["--end", "2026-02-04"];
                all.extend_from_slice(args);
                query(env, &all).stdout
            }),
        )
    };
    // Derived on read before migrating.
    let before = answers(&env);
    assert_eq!(
        before.3.clone().map(|c| c.trim().to_string()),
        ["15", "1", "2", "40", "51"].map(String::from),
        "packed types, a filled sender and counts on older files, before migrating"
    );
    assert_eq!(
        before.2.trim(),
        "11",
        "1 file message on day one, 10 on day two"
    );
    assert!(
        before.0.contains("wxid_u1,text,,,,,,,,第1条"),
        "{}",
        before.0
    );
    let contents = env.contents();

    let snapshot = env.snapshot();
    let dry = env.run(&["migrate", "--dry-run", "--json"]);
    dry.assert_code(0);
    assert_eq!(
        dry.json()["plan"].as_array().unwrap().len(),
        2,
        "{}",
        dry.stdout
    );
    assert_eq!(env.snapshot(), snapshot, "--dry-run changes nothing");

    let run = env.run(&["migrate", "--json"]);
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["partitions"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["rows"], 51, "{v}");
    assert_eq!(versions(&env), [(3, 2)]);
    assert_eq!(env.contents(), contents);
    let after = answers(&env);
    assert_eq!(
        after.0, before.0,
        "the same derived columns from migrated files"
    );
    assert_eq!(
        after.1.keys().collect::<Vec<_>>(),
        before.1.keys().collect::<Vec<_>>()
    );
    for (id, row) in &before.1 {
        assert_eq!(
            &after.1[id], row,
            "{id}: the same JSON object from migrated files"
        );
    }
    assert_eq!(after.2, before.2);
    env.run(&["verify"]).assert_code(0);
    env.assert_no_leftovers();

    // Idempotent.
    let again = env.run(&["migrate", "--json"]).json();
    assert_eq!(again["partitions"].as_array().unwrap().len(), 0, "{again}");
    let human = env.run(&["migrate"]);
    assert!(
        human.stdout.contains("migrated 0 of 2 partitions"),
        "{}",
        human.stdout
    );
}

#[test]
fn migrate_killed_at_every_failpoint_then_rerun_leaves_each_message_once() {
    for fp in [
        "migrate.staged",
        "journal.before_rename",
        "migrate.journaled",
        "migrate.swapped",
        "migrate.cleaned",
    ] {
        let env = legacy_lake();
        let contents = env.contents();
        let run: Run = env
            .command()
            .arg("migrate")
            .env("WXLAKE_FAILPOINTS", fp)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, None, "{fp}: must die there: {run:?}");
        assert_eq!(
            env.contents(),
            contents,
            "{fp}: a reader sees each message once"
        );
        env.run(&["migrate"]).assert_code(0);
        assert_eq!(env.contents(), contents, "{fp}");
        assert_eq!(versions(&env), [(3, 2)], "{fp}");
        env.run(&["verify"]).assert_code(0);
        env.assert_no_leftovers();
    }
}

#[test]
fn kill_9_during_migrate_never_loses_or_doubles_a_message() {
    let env = TestEnv::new();
    crate::common::generate(
        &env.data,
        &[
            "--days",
            "10",
            "--per-day",
            "300",
            "--start-date",
            "2026-03-01",
            "--seed",
            "5",
        ],
    );
    env.run(&["-q", "ingest"]).assert_code(0);
    let layout = env.layout();
    let downgrade = || {
        for key in layout.partitions().unwrap() {
            for file in layout.partition_files(key).unwrap() {
                wxlake::lake::legacy::rewrite_as_version(&file, 1, "Asia/Shanghai").unwrap();
            }
        }
    };
    downgrade();
    let contents = env.contents();
    let started = std::time::Instant::now();
    let probe = env.run(&["migrate", "--dry-run"]);
    probe.assert_code(0);
    // A full migration of this lake takes a few times the dry run's listing; kill within it.
    let window = (started.elapsed().as_millis() as u64 * 6).max(60);
    let mut rng = crate::common::TestRng::from_env(0x9e37_79b9_7f4a_7c15);
    let mut killed = 0;
    for _ in 0..8 {
        killed += u32::from(crate::common::kill_at_random(
            env.command().args(["-q", "migrate"]),
            &mut rng,
            window,
        ));
        assert_eq!(env.contents(), contents, "each message once after a kill");
        if versions(&env) == [(3, 10)] {
            // Finished: old files again for the next round (after recovery of any swap).
            env.run(&["-q", "migrate"]).assert_code(0);
            downgrade();
        }
    }
    assert!(
        killed > 0,
        "no migration was interrupted; the test proved nothing"
    );
    env.run(&["migrate"]).assert_code(0);
    assert_eq!(env.contents(), contents);
    assert!(versions(&env).iter().all(|v| v.0 == 3));
    env.run(&["verify"]).assert_code(0);
    env.assert_no_leftovers();
}

/// Review of issue 12: a plain resend of a message stored by an older schema version (a packed
/// type kept as a type conflict, a sender left empty) was counted as a conflicting duplicate.
#[test]
fn regression_a_resend_of_a_row_stored_by_an_older_version_is_no_conflict() {
    let env = legacy_lake();
    let day2 = std::fs::read_to_string(env.raw_path("2026-02-04")).unwrap();
    let resent: String = day2.lines().take(2).map(|l| format!("{l}\n")).collect();
    assert!(
        resent.contains("25769803825") && resent.contains("wxid_u1:"),
        "{resent}"
    );
    env.append_raw("2026-02-05", &resent);
    let v = env.ingest(&[]);
    assert_eq!(
        (v["written"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2)),
        "{v}"
    );
    assert_eq!(v["conflicting_duplicates"], 0, "{v}");
}
