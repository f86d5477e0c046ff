//! A temp data directory per test and helpers to run the real `wxlake` binary in it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{NaiveDate, TimeZone};
use serde_json::Value;

use wxlake::lake::Layout;
use wxlake::lake::reader::for_each_row;
use wxlake::record::text;

pub const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// One test's data directory.
pub struct TestEnv {
    _dir: tempfile::TempDir,
    pub data: PathBuf,
}

/// A finished `wxlake` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// One stored row, as the tests compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub msg_id: String,
    pub create_time: i64,
    pub content: Option<String>,
    pub chatroom: Option<String>,
    pub extra_fields: Option<String>,
    pub partition: String,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("messages/raw")).unwrap();
        TestEnv { _dir: dir, data }
    }

    pub fn layout(&self) -> Layout {
        Layout::new(&self.data)
    }

    pub fn raw_path(&self, date: &str) -> PathBuf {
        self.data.join("messages/raw").join(format!("{date}.jsonl"))
    }

    /// Append `text` to the raw file of `date`.
    pub fn append_raw(&self, date: &str, text: &str) {
        self.append_raw_bytes(date, text.as_bytes());
    }

    pub fn append_raw_bytes(&self, date: &str, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.raw_path(date))
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxlake"));
        cmd.arg("--data-dir").arg(&self.data);
        cmd.env_remove("WXLAKE_TIMEZONE")
            .env_remove("WXLAKE_FAILPOINTS");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    /// `wxlake ingest --json ARGS`, expected to succeed; checks the summary's invariant.
    #[track_caller]
    pub fn ingest(&self, args: &[&str]) -> Value {
        let mut all = vec!["ingest", "--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.assert_code(0);
        let v = run.json();
        assert_invariant(&v);
        for file in v["files"].as_object().unwrap().values() {
            assert_invariant(file);
        }
        v
    }

    /// Every row of the lake.
    pub fn rows(&self) -> Vec<StoredRow> {
        let layout = self.layout();
        let mut rows = Vec::new();
        for key in layout.partitions().unwrap() {
            for file in layout.partition_files(key).unwrap() {
                for_each_row(
                    &file,
                    |_| true,
                    |r| {
                        rows.push(StoredRow {
                            msg_id: r.msg_id.to_string(),
                            create_time: r.create_time,
                            content: r.text[text::CONTENT].map(String::from),
                            chatroom: r.text[text::CHATROOM].map(String::from),
                            extra_fields: r.extra_fields.map(String::from),
                            partition: key.to_string(),
                        })
                    },
                )
                .unwrap();
            }
        }
        rows
    }

    /// `column` of every row of a side table (`contacts` or `events`), as text (null as "").
    pub fn side_column(&self, table: &str, column: &str) -> Vec<String> {
        let mut out = Vec::new();
        let dir = self.data.join("parquet").join(table);
        let Ok(entries) = fs::read_dir(&dir) else {
            return out;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        {
            let file = fs::File::open(path).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                let col = batch
                    .column_by_name(column)
                    .unwrap_or_else(|| panic!("no {column}"));
                let col = arrow_cast_to_strings(col);
                out.extend(col);
            }
        }
        out
    }

    /// msg_id → how many times it is stored.
    pub fn id_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.rows() {
            *counts.entry(r.msg_id).or_insert(0) += 1;
        }
        counts
    }

    /// Every stored row as msg_id → (create_time, content, partition), to compare a lake before
    /// and after a rewrite.
    pub fn contents(&self) -> BTreeMap<String, (i64, Option<String>, String)> {
        self.rows()
            .into_iter()
            .map(|r| (r.msg_id, (r.create_time, r.content, r.partition)))
            .collect()
    }

    /// Nothing half-done left by a maintenance command: no swap or journal entries, no temp
    /// archives.
    #[track_caller]
    pub fn assert_no_leftovers(&self) {
        for dir in ["parquet/.swap", "metadata/journal"] {
            let n = fs::read_dir(self.data.join(dir))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(n, 0, "{dir} is not empty");
        }
        let temps = fs::read_dir(self.data.join("messages/raw/archive"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(temps, 0, "temp archives left");
    }

    /// Every file under the data dir except raw input, with its size (to prove "nothing changed").
    pub fn snapshot(&self) -> BTreeMap<PathBuf, u64> {
        let mut out = BTreeMap::new();
        walk(&self.data, &mut out);
        out.retain(|p, _| {
            !p.starts_with(self.data.join("messages")) && !p.ends_with("wxlake.lock")
        });
        out
    }

    /// Lines of the quarantine files.
    pub fn rejects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let dir = self.data.join("metadata/rejects");
        let Ok(entries) = fs::read_dir(&dir) else {
            return out;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            for line in fs::read_to_string(p).unwrap().lines() {
                out.push(serde_json::from_str(line).unwrap());
            }
        }
        out
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, u64>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            walk(&p, out);
        } else {
            out.insert(p, e.metadata().unwrap().len());
        }
    }
}

/// `lines_read = written + duplicates + rejected + blank + contacts + events`.
#[track_caller]
pub fn assert_invariant(v: &Value) {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"));
    assert_eq!(
        n("lines_read"),
        n("written") + n("duplicates") + n("rejected") + n("blank") + n("contacts") + n("events"),
        "invariant broken: {v}"
    );
    assert!(
        n("conflicting_duplicates") + n("contact_duplicates") + n("event_duplicates")
            <= n("duplicates")
    );
    assert_eq!(
        n("contacts"),
        n("contact_updates") + n("contact_deletes") + n("contact_details"),
        "contact kinds: {v}"
    );
}

/// The values of a Utf8, Int32 or Int64 column as text, null as "".
fn arrow_cast_to_strings(col: &arrow_array::ArrayRef) -> Vec<String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    (0..col.len())
        .map(|i| {
            if col.is_null(i) {
                return String::new();
            }
            match col.data_type() {
                arrow_schema::DataType::Int32 => {
                    col.as_primitive::<Int32Type>().value(i).to_string()
                }
                arrow_schema::DataType::Int64 => {
                    col.as_primitive::<Int64Type>().value(i).to_string()
                }
                _ => col.as_string::<i32>().value(i).to_string(),
            }
        })
        .collect()
}

/// Unix seconds of a local date-time in Asia/Shanghai.
pub fn shanghai(y: i32, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
    SHANGHAI
        .with_ymd_and_hms(y, m, d, hh, mm, ss)
        .unwrap()
        .timestamp()
}

/// Today's date in Asia/Shanghai as YYYY-MM-DD.
pub fn today_shanghai() -> NaiveDate {
    chrono::Utc::now().with_timezone(&SHANGHAI).date_naive()
}

/// A data directory with one raw file (2026-01-20) of one message, msg_id 1, "hello".
pub fn one_message_env() -> TestEnv {
    let env = TestEnv::new();
    env.append_raw(
        "2026-01-20",
        &msg("1", shanghai(2026, 1, 20, 9, 0, 0), "hello"),
    );
    env
}

/// A webhook envelope line holding `data`.
pub fn envelope(guid: &str, notify_type: i64, data: Value) -> String {
    serde_json::json!({"guid": guid, "notify_type": notify_type, "data": data}).to_string() + "\n"
}

/// A contact update (1200) envelope in the pad protocol's shape.
pub fn contact_update(guid: &str, username: &str, nickname: &str, remark: Option<&str>) -> String {
    let remark = match remark {
        Some(r) => serde_json::json!({"string": r}),
        None => serde_json::json!({}),
    };
    envelope(
        guid,
        1200,
        serde_json::json!({
            "userName": {"string": username},
            "nickName": {"string": nickname},
            "remark": remark,
            "sex": 1,
            "mobile": "13812345678",
            "bitMask": 4294967295u64,
        }),
    )
}

/// A JSON line for a message.
pub fn msg(id: &str, create_time: i64, content: &str) -> String {
    serde_json::json!({
        "msg_id": id,
        "create_time": create_time,
        "msg_type": 1,
        "from_username": "wxid_sender",
        "chatroom": "123@chatroom",
        "content": content,
    })
    .to_string()
        + "\n"
}

/// Run the bundled generator (`examples/generate.rs`, built by `cargo test`) into `out`.
pub fn generate(out: &Path, args: &[&str]) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_wxlake"));
    let generator = bin.parent().unwrap().join("examples").join("generate");
    let output = Command::new(&generator)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo test builds it)", generator.display()));
    assert!(output.status.success(), "generate failed: {output:?}");
}

/// The tests' one random generator (xorshift64): kill delays, generated data.
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed.max(1))
    }

    /// Seeded by `WXLAKE_KILL_SEED` when set (to replay a failing kill loop), else `seed`.
    pub fn from_env(seed: u64) -> Self {
        TestRng::new(
            std::env::var("WXLAKE_KILL_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(seed),
        )
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Start `cmd`, and SIGKILL it after a random delay in `0..window_ms` if it is still running.
/// Returns whether it was killed; a run that ended by itself must have succeeded.
pub fn kill_at_random(cmd: &mut Command, rng: &mut TestRng, window_ms: u64) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(rng.below(window_ms)));
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap(); // SIGKILL
    }
    let status = child.wait().unwrap();
    assert!(
        killed || status.success(),
        "a run that was not killed failed: {status:?}"
    );
    killed
}

/// How long `f` takes, in milliseconds (at least `min`): the window a kill loop kills within.
pub fn window_ms(min: u64, f: impl FnOnce()) -> u64 {
    let started = std::time::Instant::now();
    f();
    (started.elapsed().as_millis() as u64).max(min)
}
