//! Deterministic generator of realistic WeChat message logs for `wxlake`.
//!
//! It writes one JSONL file per day, `DIR/messages/raw/YYYY-MM-DD.jsonl`, with
//! one JSON object per line, shaped like the dumps of a WeChat collector:
//! `msg_id`, `create_time`, `msg_type`, `from_username`, `to_username`,
//! `chatroom`, `chatroom_sender`, `content`, `source`, plus unknown extra keys
//! on about 20% of the records. Each file holds the messages whose
//! `create_time` falls on that date in Asia/Shanghai (UTC+8), except about
//! 0.5% late arrivals stamped in the last minutes of the previous day.
//!
//! Roles follow WeChat: a message received in a group has `from_username` =
//! the chatroom id, `to_username` = the owner account and `chatroom_sender` =
//! the real sender; one the owner sent has `from_username` = the owner and
//! `to_username` = the chatroom (or the peer in a private chat). Private chats
//! have no `chatroom_sender`, and `chatroom` is either absent or `""`.
//!
//! Only the standard library is used (xoshiro256** seeded by splitmix64, and
//! hand-written civil-date arithmetic), so the same arguments always produce
//! byte-identical output, and day `k` does not depend on `--days`.
//!
//! # Usage
//!
//! ```text
//! cargo run --release --example generate -- --out DIR [--days 60] [--per-day 400]
//!     [--start-date 2026-01-01] [--seed 42] [--profile realistic|short]
//!     [--dup-rate 0.01] [--malformed-rate 0.002] [--max-app-kb N]
//!     [--ensure-defects] [--no-defects] [--envelope] [--wechat4]
//! ```
//!
//! A one-line summary (files, lines, bytes, defect counts) goes to stderr.
//! Bad arguments print a message naming the argument and exit with code 64.
//!
//! # Profiles
//!
//! * `realistic` (default): text 60%, image 12%, voice 8%, video 2%,
//!   sticker 5%, app/XML 10%, system 3%; 70% group chats. App messages carry
//!   2-40 KiB of XML, and about a third of them also a 64-640 KiB base64
//!   thumbnail: that is what brings `--days 60 --per-day 400` to about 340 MB
//!   (14 KB a line on average, longest lines about 700 KB).
//!   `--max-app-kb N` trims app messages towards N KiB (their fixed part is
//!   about 2 KiB) to keep small samples small.
//! * `short`: short text messages only, every key present, about 570 bytes a
//!   line, for throughput tests (`--days 1 --per-day 1000000` is about 570 MB).
//!
//! # Defects
//!
//! Unless `--no-defects` is given: about `--dup-rate` of the lines resend an
//! earlier line of the same or previous day (one in ten of them with the same
//! `msg_id` but a different `content`), and about `--malformed-rate` of the
//! lines rotate among: truncated JSON, a JSON array, two objects on one line,
//! a missing `msg_id`, `"create_time": "yesterday"`, a lone surrogate escape
//! `\ud83d` in `content` (repairable, so not malformed for the ingester),
//! `"msg_type": "abc"` (a type conflict) and raw invalid UTF-8 bytes
//! (`0xff 0xfe`). About 1 in 5000 lines is followed by a blank line and about
//! 1 in 20000 ends with `\r\n`. `--ensure-defects` additionally plants every
//! defect kind (and a late arrival and a `msg_id` above 2^63) at least once in
//! each file, and puts messages at 00:00:00 and 23:59:59 local time.
//!
//! # Envelope mode
//!
//! `--envelope` writes what a webhook forwarder appends instead: each line is
//! `{"guid": "<uuid>", "notify_type": N, "data": {…}}`. The message lines
//! (1010) carry exactly the flat records above as `data`; about 5% stay flat
//! (older writers), a third of those with their own leading `guid` and
//! `notify_type` keys. Malformed lines stay flat, except the missing `msg_id`
//! one, which becomes an envelope whose `data` lacks `msg_id`; resends are
//! webhook retries, the same `data` under a new `guid`. In addition to the
//! `--per-day` message lines, at random positions between them:
//!
//! * 1200 contact updates, 3-6 at the start of each file plus about 1.3% of
//!   the lines: the pad protocol's camelCase contact struct, 46-55 keys, text
//!   fields wrapped as `{"string": …}` (`remark` also `{}` or a plain string,
//!   `flag` an int or a string), for the owner, the users, rooms and official
//!   accounts of the world. Nicknames are unique, except that two persons are
//!   both called "张伟"; about a quarter of the updates rename an announced
//!   contact or change its remark, and (with defects) 1 in 20 is retried.
//! * 1201 contact deletes, one every two days, of an announced person.
//! * 1202 contact details, 0-2 a day (plain strings, `customInfo.detail` a
//!   JSON string with a phone number).
//! * 1003 unknown events, about 1 in 1000 lines (one per file at least with
//!   `--ensure-defects`).
//!
//! All these choices come from streams of their own, so the message records
//! are the same as without `--envelope`, and output without it is unchanged.
//! The summary adds `envelope_messages` (1010 envelopes, retries included),
//! `flat_messages` (valid flat records), `retries` (messages and contacts),
//! `contact_updates` (retries included), `contact_deletes`,
//! `contact_details` and `events`.
//!
//! # Bundled sample
//!
//! The README quick-start sample under `sample/` was produced with:
//!
//! ```text
//! cargo run --release --example generate -- --out sample --days 3 --per-day 40 \
//!     --start-date 2026-01-20 --seed 7 --max-app-kb 16 --ensure-defects
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const EX_USAGE: u8 = 64;
const EX_IOERR: u8 = 74;

const USAGE: &str = "\
generate: deterministic generator of realistic WeChat JSONL message logs

Usage: generate --out DIR [OPTIONS]

Writes DIR/messages/raw/YYYY-MM-DD.jsonl, one file per day (Asia/Shanghai).

Options:
  --out DIR            output root directory (required)
  --days N             number of daily files [default: 60]
  --per-day N          lines per daily file [default: 400]
  --start-date DATE    first day, YYYY-MM-DD [default: 2026-01-01]
  --seed N             PRNG seed (u64) [default: 42]
  --profile P          realistic | short [default: realistic]
  --dup-rate R         fraction of lines resending an earlier line [default: 0.01]
  --malformed-rate R   fraction of malformed or odd lines [default: 0.002]
  --max-app-kb N       cap app (type 49) XML content at N KiB [default: no cap]
  --ensure-defects     emit every defect kind at least once per file
  --wechat4            some app messages with a WeChat 4.x packed type (subtype << 32 | 49),
                       some group texts naming their sender only as a `wxid:\n` prefix
  --no-defects         no duplicates, malformed, blank or CRLF lines
  --envelope           write webhook envelopes with contact and event records
  -h, --help           print this help
";

/// Seconds east of UTC for Asia/Shanghai (no DST).
const SHANGHAI_OFFSET: i64 = 8 * 3600;
/// Ordinary message ids live in [ID_BASE, ID_BASE + 2^60): 19 digits, < 2^63.
const ID_BASE: u64 = 6_000_000_000_000_000_000;
/// About 1 in 200 ids live in [BIG_ID_BASE, BIG_ID_BASE + 2^60): above 2^63.
const BIG_ID_BASE: u64 = 10_000_000_000_000_000_000;
/// Lines kept per day as candidates for resends.
const POOL_CAP: usize = 32;

// ---------------------------------------------------------------- arguments

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    Realistic,
    Short,
}

struct Config {
    out: PathBuf,
    days: u32,
    per_day: usize,
    /// First day as days since 1970-01-01.
    start_days: i64,
    seed: u64,
    profile: Profile,
    dup_rate: f64,
    malformed_rate: f64,
    defects: bool,
    ensure_defects: bool,
    max_app_bytes: Option<usize>,
    envelope: bool,
    /// `--wechat4`: some app messages carry a 4.x packed type, some group texts name their
    /// sender only as a `wxid:\n` prefix (pad protocol).
    wechat4: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Config>, String> {
    let mut cfg = Config {
        out: PathBuf::new(),
        days: 60,
        per_day: 400,
        start_days: days_from_civil(2026, 1, 1),
        seed: 42,
        profile: Profile::Realistic,
        dup_rate: 0.01,
        malformed_rate: 0.002,
        defects: true,
        ensure_defects: false,
        max_app_bytes: None,
        envelope: false,
        wechat4: false,
    };
    let mut out = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        match name {
            "-h" | "--help" => return Ok(None),
            "--no-defects" | "--ensure-defects" | "--envelope" | "--wechat4" => {
                if inline.is_some() {
                    return Err(format!("{name} takes no value"));
                }
                match name {
                    "--no-defects" => cfg.defects = false,
                    "--ensure-defects" => cfg.ensure_defects = true,
                    "--wechat4" => cfg.wechat4 = true,
                    _ => cfg.envelope = true,
                }
                continue;
            }
            "--out" | "--days" | "--per-day" | "--start-date" | "--seed" | "--profile"
            | "--dup-rate" | "--malformed-rate" | "--max-app-kb" => {}
            _ => return Err(format!("unknown argument '{arg}'")),
        }
        let value = match inline {
            Some(v) => v,
            None => match args.get(i) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    v.as_str()
                }
                _ => return Err(format!("{name} requires a value")),
            },
        };
        match name {
            "--out" => {
                if value.is_empty() {
                    return Err("--out requires a non-empty directory".to_string());
                }
                out = Some(PathBuf::from(value));
            }
            "--days" => cfg.days = parse_u64(name, value, 1, 36_500)? as u32,
            "--per-day" => cfg.per_day = parse_u64(name, value, 1, 100_000_000)? as usize,
            "--start-date" => {
                cfg.start_days = parse_date(value).ok_or_else(|| {
                    format!(
                        "invalid value '{value}' for --start-date: expected YYYY-MM-DD (1971-9999)"
                    )
                })?;
            }
            "--seed" => cfg.seed = parse_u64(name, value, 0, u64::MAX)?,
            "--profile" => {
                cfg.profile = match value {
                    "realistic" => Profile::Realistic,
                    "short" => Profile::Short,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' for --profile: expected realistic or short"
                        ));
                    }
                }
            }
            "--dup-rate" => cfg.dup_rate = parse_rate(name, value)?,
            "--malformed-rate" => cfg.malformed_rate = parse_rate(name, value)?,
            "--max-app-kb" => {
                cfg.max_app_bytes = Some(parse_u64(name, value, 2, 1 << 20)? as usize * 1024);
            }
            _ => unreachable!("option list above is exhaustive"),
        }
    }
    cfg.out = out.ok_or("missing required argument --out DIR")?;
    if cfg.dup_rate + cfg.malformed_rate > 1.0 {
        return Err("--dup-rate plus --malformed-rate must not exceed 1".to_string());
    }
    Ok(Some(cfg))
}

fn parse_u64(name: &str, value: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "invalid value '{value}' for {name}: expected an integer from {lo} to {hi}"
        )),
    }
}

fn parse_rate(name: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "invalid value '{value}' for {name}: expected a number from 0 to 1"
        )),
    }
}

fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if y < 1971 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

// ---------------------------------------------------------------- civil dates

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------- randomness

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through splitmix64.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.index(xs.len())]
    }
}

/// Bijection on 60-bit integers, so distinct sequence numbers give distinct ids.
fn mix60(x: u64) -> u64 {
    const MASK: u64 = (1 << 60) - 1;
    let mut x = x & MASK;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & MASK;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & MASK;
    x ^= x >> 32;
    x
}

/// Zipf-like sampler over `0..n` with weight `1 / (k + 1)^s`.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.f64();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// Relative message volume per local hour (quiet nights, busy office hours and evenings).
const HOUR_WEIGHTS: [f64; 24] = [
    3.0, 1.5, 0.8, 0.5, 0.4, 0.6, 1.5, 3.5, 5.5, 7.0, 7.5, 7.0, 5.5, 5.0, 6.5, 7.0, 7.0, 6.0, 5.0,
    5.5, 6.5, 7.0, 6.0, 4.5,
];

struct Diurnal {
    cum: [f64; 25],
}

impl Diurnal {
    fn new() -> Self {
        let total: f64 = HOUR_WEIGHTS.iter().sum();
        let mut cum = [0.0; 25];
        let mut acc = 0.0;
        for (h, w) in HOUR_WEIGHTS.iter().enumerate() {
            acc += w / total;
            cum[h + 1] = acc;
        }
        cum[24] = 1.0;
        Diurnal { cum }
    }

    /// Second of the day at quantile `u` of the daily volume.
    fn second_of_day(&self, u: f64) -> i64 {
        let h = self.cum[1..].partition_point(|&c| c <= u).min(23);
        let span = self.cum[h + 1] - self.cum[h];
        let frac = if span > 0.0 {
            (u - self.cum[h]) / span
        } else {
            0.0
        };
        h as i64 * 3600 + (frac * 3600.0) as i64
    }
}

// ---------------------------------------------------------------- text pools

const CN: &[&str] = &[
    "好的",
    "收到",
    "哈哈哈哈",
    "在吗",
    "今天晚上一起吃饭吗",
    "明天上午十点开会",
    "这个方案我觉得可以",
    "辛苦了",
    "麻烦发一下文件",
    "我到楼下了",
    "周末去爬山吧",
    "刚刚看到消息",
    "没问题",
    "稍等一下",
    "谢谢老板",
    "群里有人知道吗",
    "这个价格有点贵",
    "下班了吗",
    "快递到了",
    "我晚点回复你",
    "路上堵车了",
    "已经提交了",
    "请大家准时参加",
    "这周五之前完成",
    "数据有点问题",
    "我先看一下",
    "可以的",
    "太棒了",
    "有道理",
    "不好意思",
    "刚才在开会",
    "链接打不开",
    "我这边没收到",
    "明白",
    "你们先吃",
    "孩子今天发烧了",
    "周一见",
    "记得带伞",
    "外面下雨了",
    "新年快乐",
    "恭喜发财",
    "生日快乐",
    "早上好",
    "晚安",
    "我同意",
    "再确认一下",
    "报销单已经交了",
    "下午三点视频会议",
    "客户那边回复了",
    "版本已经发布",
    "线上出了个问题",
    "我来处理",
    "已经回滚了",
    "重启一下试试",
    "内存占用太高了",
    "日志里没有报错",
    "要不要一起打车",
    "到家了吗",
    "今天好冷",
    "中午吃什么",
    "等你好消息",
];

const EN: &[&str] = &[
    "OK",
    "ok",
    "thanks!",
    "Thanks a lot",
    "see you tomorrow",
    "LGTM",
    "meeting at 3pm",
    "ETA 10 min",
    "btw",
    "FYI",
    "sounds good",
    "let me check",
    "PR merged",
    "deploy done",
    "Happy New Year",
    "lol",
    "np",
    "sorry, I'm late",
    "https://github.com/apache/arrow-rs/issues/1234",
    "https://example.com/a?b=1&c=2",
    "v1.2.3",
    "Q1",
    "OKR",
    "P0",
    "iPhone",
    "CPU 100%",
    "JSON",
    "2026-01-20",
    "14:30",
    "¥199",
    "#wxlake",
];

const EMOJI: &[&str] = &[
    "😀",
    "😂",
    "🤣",
    "😅",
    "😊",
    "😭",
    "👍",
    "🙏",
    "🎉",
    "❤️",
    "🌹",
    "🔥",
    "💪",
    "🐶",
    "🧧",
    "👀",
    "👨‍👩‍👧",
    "[微笑]",
    "[捂脸]",
    "[呲牙]",
    "[强]",
    "[抱拳]",
    "[偷笑]",
    "[旺柴]",
    "[破涕为笑]",
    "[OK]",
    "[玫瑰]",
    "[红包]",
];

const PUNCT: &[&str] = &[
    "，", "。", "！", "？", "～", "、", "…", " ", " ", "!", "?", ",", ".", "：", "；",
];

/// Tokens that exercise JSON escaping and Unicode corner cases.
const SPECIAL: &[&str] = &[
    "\n",
    "\n\n",
    "\"",
    "他说\"好的\"",
    "“引号”",
    "'",
    "\\",
    "\t",
    "<b>粗体</b>",
    "a & b",
    "{\"json\": true}",
    "C:\\Users\\Public",
    "「重要」",
    "\u{3000}",
    "\u{200b}",
    "\u{2028}",
    "\u{1}",
    "/* */",
];

const NICKS: &[&str] = &[
    "张伟",
    "王芳",
    "李娜",
    "小明",
    "Alice",
    "Bob🐶",
    "阿杰",
    "陈老师",
    "Lily",
    "老王",
    "🌸花花🌸",
    "Kevin Zhang",
    "刘总",
    "妈妈",
    "Tony 托尼",
    "赵磊",
    "孙悦",
    "周周",
    "吴工",
    "郑经理",
    "Grace",
    "小胖",
    "大壮",
    "Ming",
    "林林",
];

const TITLES: &[&str] = &[
    "2026年春节放假安排来了！",
    "深度｜大模型时代的数据湖架构",
    "一文读懂 Parquet 列式存储",
    "周末去哪儿？上海10个小众公园推荐",
    "重磅！新规今起施行",
    "这5种早餐，其实很伤胃",
    "Rust 1.95 发布：这些新特性值得关注",
    "年终总结｜我们这一年",
    "招聘｜数据工程师（上海/杭州）",
    "转给家里人看！冬季流感高发，这些症状要注意",
    "用 Arrow 把查询提速 10 倍的实践",
    "2026 年第一场雪，美哭了",
    "官方通报：关于近期网传信息的说明",
    "小区停水通知（1月22日 9:00-17:00）",
    "如何写好一份技术方案？",
];

const FILES: &[&str] = &[
    "2026年度预算表.xlsx",
    "项目周报-第3周.docx",
    "wxlake_design_v2.pdf",
    "合同扫描件.zip",
    "Q1 OKR 复盘会议纪要.pdf",
    "发票-202601.pdf",
    "产品需求文档 PRD v1.3.docx",
    "data_export_20260120.csv",
];

const ACCOUNTS: &[&str] = &[
    "上海发布",
    "人民日报",
    "InfoQ",
    "极客时间",
    "Rust语言中文社区",
    "丁香医生",
    "36氪",
    "中国气象局",
];

const ARRAYS: &[&[u8]] = &[b"[1,2]", b"[1, 2]", b"[]", b"[{\"msg_id\": 1}]"];

// ---------------------------------------------------------------- small writers

const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn push_hex(s: &mut String, rng: &mut Rng, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut v = rng.next_u64();
        for _ in 0..left.min(16) {
            s.push(HEX[(v & 15) as usize] as char);
            v >>= 4;
        }
        left = left.saturating_sub(16);
    }
}

fn push_alnum(s: &mut String, rng: &mut Rng, n: usize) {
    for _ in 0..n {
        s.push(ALNUM[rng.index(ALNUM.len())] as char);
    }
}

fn push_b64(s: &mut String, rng: &mut Rng, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut v = rng.next_u64();
        for _ in 0..left.min(10) {
            s.push(B64[(v & 63) as usize] as char);
            v >>= 6;
        }
        left = left.saturating_sub(10);
    }
}

fn push_num(s: &mut String, v: u64) {
    write!(s, "{v}").expect("writing to a String cannot fail");
}

/// A CDN file id in the hex form WeChat uses, `lo..=hi` hex digits long.
fn push_cdn(s: &mut String, rng: &mut Rng, lo: u64, hi: u64) {
    s.push_str("3057020100044b30490201000204");
    let n = rng.range(lo, hi) as usize;
    push_hex(s, rng, n);
}

/// Chinese prose of about `chars` characters, without markup-sensitive characters.
fn push_prose(s: &mut String, rng: &mut Rng, chars: usize) {
    let mut n = 0;
    while n < chars {
        let p = rng.pick(CN);
        s.push_str(p);
        n += p.chars().count();
        let sep = if rng.chance(0.25) { "。" } else { "，" };
        s.push_str(sep);
        n += 1;
    }
}

/// An `mp.weixin.qq.com` article link, `&` already XML-escaped.
fn push_mp_url(s: &mut String, rng: &mut Rng) {
    s.push_str("https://mp.weixin.qq.com/s?__biz=Mz");
    push_b64(s, rng, 10);
    s.push_str("==&amp;mid=2247");
    push_num(s, rng.range(480_000, 499_999));
    s.push_str("&amp;idx=");
    push_num(s, rng.range(1, 4));
    s.push_str("&amp;sn=");
    push_hex(s, rng, 32);
    s.push_str("&amp;chksm=");
    push_hex(s, rng, 80);
    s.push_str("&amp;mpshare=1&amp;scene=1&amp;srcid=0120");
    push_alnum(s, rng, 20);
    s.push_str("&amp;sharer_shareinfo=");
    push_hex(s, rng, 32);
    s.push_str("&amp;sharer_shareinfo_first=");
    push_hex(s, rng, 32);
    s.push_str("#rd");
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_hex_u64(out: &mut Vec<u8>, mut v: u64) {
    for _ in 0..16 {
        out.push(HEX[(v & 15) as usize]);
        v >>= 4;
    }
}

/// Appends `s` as a JSON string literal (UTF-8 kept as is, controls escaped).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn insert_bytes(v: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    v.splice(at..at, bytes.iter().copied());
}

// ---------------------------------------------------------------- records

#[derive(Clone, Copy)]
enum IdField {
    Int(u64),
    Str(u64),
    Missing,
}

#[derive(Clone, Copy)]
enum TimeField {
    Secs(u64),
    Millis(u64),
    Digits(u64),
    Word(&'static str),
}

#[derive(Clone, Copy)]
enum TypeField {
    Int(u32),
    Str(&'static str),
    /// A WeChat 4.x packed type: `subtype << 32 | type`.
    Packed(u64),
}

#[derive(Clone, Copy)]
enum SourceField<'w> {
    Xml,
    Object { at: &'w str, silence: u64 },
    Int(u64),
}

const EX_STATUS: u8 = 1;
const EX_IS_SENDER: u8 = 2;
const EX_IMG_PATH: u8 = 4;
const EX_TALKER_ID: u8 = 8;
const EX_EXT: u8 = 16;
const EX_RESERVED: u8 = 32;

/// Unknown keys some collectors add.
#[derive(Clone, Copy, Default)]
struct Extras {
    mask: u8,
    status: u64,
    is_sender: u64,
    talker_id: u64,
    path: (u64, u64),
    ext: u8,
    year: i64,
    month: u32,
}

struct Rec<'w> {
    id: IdField,
    time: TimeField,
    msg_type: TypeField,
    from: &'w str,
    to: &'w str,
    chatroom: Option<&'w str>,
    sender: Option<&'w str>,
    source: SourceField<'w>,
    extras: Extras,
}

fn key(out: &mut Vec<u8>, first: &mut bool, k: &str) {
    if !*first {
        out.extend_from_slice(b", ");
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\": ");
}

/// Serializes `r` to `out`; returns the byte range of the `content` string literal.
fn write_record(out: &mut Vec<u8>, r: &Rec, content: &str, source: &str) -> (usize, usize) {
    let mut first = true;
    out.push(b'{');
    match r.id {
        IdField::Int(v) => {
            key(out, &mut first, "msg_id");
            push_u64(out, v);
        }
        IdField::Str(v) => {
            key(out, &mut first, "msg_id");
            out.push(b'"');
            push_u64(out, v);
            out.push(b'"');
        }
        IdField::Missing => {}
    }
    key(out, &mut first, "create_time");
    match r.time {
        TimeField::Secs(v) | TimeField::Millis(v) => push_u64(out, v),
        TimeField::Digits(v) => {
            out.push(b'"');
            push_u64(out, v);
            out.push(b'"');
        }
        TimeField::Word(w) => push_json_str(out, w),
    }
    key(out, &mut first, "msg_type");
    match r.msg_type {
        TypeField::Int(v) => push_u64(out, u64::from(v)),
        TypeField::Str(s) => push_json_str(out, s),
        TypeField::Packed(v) => push_u64(out, v),
    }
    key(out, &mut first, "from_username");
    push_json_str(out, r.from);
    key(out, &mut first, "to_username");
    push_json_str(out, r.to);
    if let Some(c) = r.chatroom {
        key(out, &mut first, "chatroom");
        push_json_str(out, c);
    }
    if let Some(s) = r.sender {
        key(out, &mut first, "chatroom_sender");
        push_json_str(out, s);
    }
    key(out, &mut first, "content");
    let start = out.len();
    push_json_str(out, content);
    let end = out.len();
    key(out, &mut first, "source");
    match r.source {
        SourceField::Xml => push_json_str(out, source),
        SourceField::Object { at, silence } => {
            out.extend_from_slice(b"{\"atuserlist\": ");
            push_json_str(out, at);
            out.extend_from_slice(b", \"silence\": ");
            push_u64(out, silence);
            out.push(b'}');
        }
        SourceField::Int(v) => push_u64(out, v),
    }
    write_extras(out, &mut first, &r.extras);
    out.push(b'}');
    (start, end)
}

fn write_extras(out: &mut Vec<u8>, first: &mut bool, x: &Extras) {
    if x.mask & EX_STATUS != 0 {
        key(out, first, "status");
        push_u64(out, x.status);
    }
    if x.mask & EX_IS_SENDER != 0 {
        key(out, first, "is_sender");
        push_u64(out, x.is_sender);
    }
    if x.mask & EX_IMG_PATH != 0 {
        key(out, first, "img_path");
        out.extend_from_slice(b"\"FileStorage\\\\MsgAttach\\\\");
        push_hex_u64(out, x.path.0);
        push_hex_u64(out, x.path.1);
        out.extend_from_slice(b"\\\\Image\\\\");
        push_u64(out, x.year as u64);
        out.push(b'-');
        if x.month < 10 {
            out.push(b'0');
        }
        push_u64(out, u64::from(x.month));
        out.extend_from_slice(b"\\\\");
        push_hex_u64(out, x.path.1);
        push_hex_u64(out, x.path.0);
        out.extend_from_slice(b".dat\"");
    }
    if x.mask & EX_TALKER_ID != 0 {
        key(out, first, "talker_id");
        push_u64(out, x.talker_id);
    }
    if x.mask & EX_EXT != 0 {
        key(out, first, "ext");
        let v: &[u8] = match x.ext {
            0 => b"{\"a\": [1, 2.5, true, null]}",
            1 => b"{\"b\": {\"c\": \"x\"}, \"n\": -1}",
            _ => b"{}",
        };
        out.extend_from_slice(v);
    }
    if x.mask & EX_RESERVED != 0 {
        key(out, first, "reserved");
        out.extend_from_slice(b"null");
    }
}

// ---------------------------------------------------------------- world

/// Accounts and rooms, fixed for a seed.
struct World {
    owner: String,
    users: Vec<String>,
    user_zipf: Zipf,
    rooms: Vec<String>,
    room_members: Vec<u64>,
    room_zipf: Zipf,
    official: Vec<String>,
}

fn wxid(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(19);
    s.push_str("wxid_");
    push_alnum(&mut s, rng, 14);
    s
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5745_4348_4154_0001);
        let owner = wxid(&mut rng);
        let users: Vec<String> = (0..300).map(|_| wxid(&mut rng)).collect();
        let rooms: Vec<String> = (0..40)
            .map(|_| format!("{}@chatroom", rng.range(10_000_000_000, 59_999_999_999)))
            .collect();
        let room_members = (0..rooms.len()).map(|_| rng.range(3, 500)).collect();
        let official = (0..ACCOUNTS.len())
            .map(|_| {
                let mut s = String::from("gh_");
                push_hex(&mut s, &mut rng, 12);
                s
            })
            .collect();
        World {
            owner,
            user_zipf: Zipf::new(users.len(), 1.1),
            users,
            room_zipf: Zipf::new(rooms.len(), 1.1),
            rooms,
            room_members,
            official,
        }
    }
}

// ---------------------------------------------------------------- generator

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bad {
    Truncated = 0,
    Array = 1,
    TwoObjects = 2,
    MissingId = 3,
    TimeWord = 4,
    LoneSurrogate = 5,
    TypeStr = 6,
    InvalidUtf8 = 7,
}

const BAD_KINDS: [Bad; 8] = [
    Bad::Truncated,
    Bad::Array,
    Bad::TwoObjects,
    Bad::MissingId,
    Bad::TimeWord,
    Bad::LoneSurrogate,
    Bad::TypeStr,
    Bad::InvalidUtf8,
];

const BAD_NAMES: [&str; 8] = [
    "truncated",
    "array",
    "two_objects",
    "missing_id",
    "time_word",
    "lone_surrogate",
    "type_conflict",
    "invalid_utf8",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Fresh,
    Late,
    BigId,
    Dup,
    Conflict,
    Bad(Option<Bad>),
}

/// Forced variations of a fresh record.
#[derive(Clone, Copy, Default)]
struct Tweak {
    big_id: bool,
    missing_id: bool,
    time_word: bool,
    type_str: bool,
    text_only: bool,
}

#[derive(Default)]
struct Stats {
    files: u64,
    lines: u64,
    bytes: u64,
    records: u64,
    late: u64,
    big_ids: u64,
    str_ids: u64,
    ms_times: u64,
    str_times: u64,
    at_midnight: u64,
    at_last_second: u64,
    dups: u64,
    conflicts: u64,
    bad: [u64; 8],
    blank: u64,
    crlf: u64,
    max_line: u64,
    env: EnvStats,
}

struct PoolEntry {
    line: Vec<u8>,
    content: (usize, usize),
}

/// Reservoir sample of one day's fresh lines, candidates for resends.
#[derive(Default)]
struct Pool {
    entries: Vec<PoolEntry>,
    seen: u64,
}

impl Pool {
    fn reset(&mut self) {
        self.entries.clear();
        self.seen = 0;
    }

    fn offer(&mut self, rng: &mut Rng, line: &[u8], content: (usize, usize)) {
        self.seen += 1;
        if self.entries.len() < POOL_CAP {
            self.entries.push(PoolEntry {
                line: line.to_vec(),
                content,
            });
            return;
        }
        let j = rng.below(self.seen) as usize;
        if let Some(e) = self.entries.get_mut(j) {
            e.line.clear();
            e.line.extend_from_slice(line);
            e.content = content;
        }
    }
}

struct Gen<'w> {
    w: &'w World,
    cfg: &'w Config,
    diurnal: Diurnal,
    rng: Rng,
    seq: u64,
    id_salt: u64,
    bad_rot: usize,
    content: String,
    source: String,
    line: Vec<u8>,
    tmp: Vec<u8>,
    cur: Pool,
    prev: Pool,
    stats: Stats,
    midnight: u64,
    year: i64,
    month: u32,
    /// State of `--envelope` (contacts, its own random stream), else `None`.
    env: Option<Envelope>,
}

impl<'w> Gen<'w> {
    fn new(w: &'w World, cfg: &'w Config) -> Self {
        let mut sm = cfg.seed ^ 0x001D_5A17;
        Gen {
            w,
            cfg,
            diurnal: Diurnal::new(),
            rng: Rng::new(cfg.seed),
            seq: 0,
            id_salt: splitmix64(&mut sm),
            bad_rot: 0,
            content: String::with_capacity(1 << 16),
            source: String::with_capacity(1024),
            line: Vec::with_capacity(1 << 16),
            tmp: Vec::with_capacity(1 << 16),
            cur: Pool::default(),
            prev: Pool::default(),
            stats: Stats::default(),
            midnight: 0,
            year: 1970,
            month: 1,
            env: cfg.envelope.then(|| Envelope::new(w, cfg)),
        }
    }

    fn run(&mut self, raw_dir: &Path) -> io::Result<()> {
        for day in 0..self.cfg.days {
            self.run_day(day, raw_dir)?;
        }
        Ok(())
    }

    fn plan(&mut self, n: usize) -> Vec<Slot> {
        let cfg = self.cfg;
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let r = self.rng.f64();
            let slot = if cfg.defects && r < cfg.dup_rate {
                if self.rng.chance(0.1) {
                    Slot::Conflict
                } else {
                    Slot::Dup
                }
            } else if cfg.defects && r < cfg.dup_rate + cfg.malformed_rate {
                Slot::Bad(None)
            } else if self.rng.chance(0.005) {
                Slot::Late
            } else {
                Slot::Fresh
            };
            slots.push(slot);
        }
        if cfg.defects && cfg.ensure_defects && n >= 3 {
            let mut forced = vec![Slot::Dup, Slot::Conflict, Slot::Late, Slot::BigId];
            forced.extend(BAD_KINDS.iter().map(|&b| Slot::Bad(Some(b))));
            // Plant them in the second half (so resends have earlier lines to
            // copy), never on the first or last line (boundary timestamps).
            let lo = if n - 1 - n / 2 >= forced.len() {
                n / 2
            } else {
                1
            };
            let avail = n - 1 - lo;
            forced.truncate(avail);
            let mut taken = Vec::with_capacity(forced.len());
            for f in forced {
                loop {
                    let p = lo + self.rng.index(avail);
                    if !taken.contains(&p) {
                        taken.push(p);
                        slots[p] = f;
                        break;
                    }
                }
            }
        }
        slots
    }

    fn run_day(&mut self, day: u32, raw_dir: &Path) -> io::Result<()> {
        let days = self.cfg.start_days + i64::from(day);
        let (y, m, d) = civil_from_days(days);
        self.midnight = (days * 86_400 - SHANGHAI_OFFSET) as u64;
        self.year = y;
        self.month = m;
        let mut sm = self.cfg.seed ^ u64::from(day).wrapping_mul(0xD1B5_4A32_D192_ED03);
        self.rng = Rng::new(splitmix64(&mut sm));
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.cur.reset();

        let n = self.cfg.per_day;
        let slots = self.plan(n);
        let defects = self.cfg.defects;
        let at_midnight = self.cfg.ensure_defects || self.rng.chance(0.5);
        let at_last_second = self.cfg.ensure_defects || self.rng.chance(0.5);
        let jitter = (86_400.0 / n as f64 * 1.5).clamp(1.0, 90.0) as u64;

        let path = raw_dir.join(format!("{y:04}-{m:02}-{d:02}.jsonl"));
        let file = File::create(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let plan = match self.env.as_mut() {
            Some(env) => env.plan_day(day, n),
            None => Vec::new(),
        };
        let mut next_extra = 0;

        for (i, &slot) in slots.iter().enumerate() {
            self.write_extras(&mut out, &plan, &mut next_extra, i)?;
            let mut carried = MsgLine::Fresh;
            let base = self.diurnal.second_of_day((i as f64 + 0.5) / n as f64);
            let jit = self.rng.below(2 * jitter + 1) as i64 - jitter as i64;
            let secs = self.midnight + (base + jit).clamp(0, 86_399) as u64;
            match slot {
                Slot::Fresh | Slot::Late | Slot::BigId => {
                    let secs = if slot == Slot::Late {
                        self.stats.late += 1;
                        self.midnight - 1 - self.rng.below(600)
                    } else if i == 0 && at_midnight {
                        self.stats.at_midnight += 1;
                        self.midnight
                    } else if i == n - 1 && at_last_second {
                        self.stats.at_last_second += 1;
                        self.midnight + 86_399
                    } else {
                        secs
                    };
                    let tweak = Tweak {
                        big_id: slot == Slot::BigId,
                        ..Tweak::default()
                    };
                    self.fresh_pooled(secs, tweak);
                }
                Slot::Dup | Slot::Conflict => {
                    if self.resend(slot == Slot::Conflict) {
                        carried = MsgLine::Resend;
                    } else {
                        self.fresh_pooled(secs, Tweak::default());
                    }
                }
                Slot::Bad(kind) => {
                    let kind = match kind {
                        Some(k) => k,
                        None => {
                            self.bad_rot += 1;
                            BAD_KINDS[(self.bad_rot - 1) % BAD_KINDS.len()]
                        }
                    };
                    self.stats.bad[kind as usize] += 1;
                    self.malformed(kind, secs);
                    carried = if kind == Bad::MissingId {
                        MsgLine::MissingId
                    } else {
                        MsgLine::Malformed
                    };
                }
            }
            if let Some(env) = self.env.as_mut() {
                env.wrap_message(&mut self.line, carried, &mut self.stats.env);
            }
            out.write_all(&self.line)?;
            let crlf = defects && self.rng.chance(1.0 / 20_000.0);
            out.write_all(if crlf { b"\r\n" } else { b"\n" })?;
            self.stats.crlf += u64::from(crlf);
            self.stats.lines += 1;
            self.stats.bytes += (self.line.len() + 1 + usize::from(crlf)) as u64;
            self.stats.max_line = self.stats.max_line.max(self.line.len() as u64);
            if defects && self.rng.chance(1.0 / 5_000.0) {
                out.write_all(b"\n")?;
                self.stats.blank += 1;
                self.stats.lines += 1;
                self.stats.bytes += 1;
            }
        }
        self.write_extras(&mut out, &plan, &mut next_extra, n)?;
        // No plan entry lies past gap n: this only flushes the pending retries.
        self.write_extras(&mut out, &plan, &mut next_extra, n + 1)?;
        out.flush()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.stats.files += 1;
        Ok(())
    }

    /// Envelope mode: writes the webhook retries queued at earlier gaps, then the
    /// contact and event lines planned before message line `gap` (`n`: after the
    /// last). Plain `\n` endings, and nothing drawn from `self.rng`, so that the
    /// message lines stay those of the flat mode.
    fn write_extras(
        &mut self,
        out: &mut impl Write,
        plan: &[(usize, Extra)],
        next: &mut usize,
        gap: usize,
    ) -> io::Result<()> {
        let Some(env) = self.env.as_mut() else {
            return Ok(());
        };
        let st = &mut self.stats;
        while env.next_retry(&mut st.env) {
            write_extra_line(out, &env.line, st)?;
        }
        while let Some(&(g, extra)) = plan.get(*next) {
            if g != gap {
                break;
            }
            *next += 1;
            env.emit(self.w, extra, &mut st.env);
            write_extra_line(out, &env.line, st)?;
        }
        Ok(())
    }

    /// A fresh valid record, remembered as a resend candidate.
    fn fresh_pooled(&mut self, secs: u64, tweak: Tweak) {
        let range = self.fresh(secs, tweak);
        self.stats.records += 1;
        self.cur.offer(&mut self.rng, &self.line, range);
    }

    /// Repeats an earlier line (of today or yesterday); `false` if there is none.
    fn resend(&mut self, conflict: bool) -> bool {
        let use_prev = match (self.cur.entries.is_empty(), self.prev.entries.is_empty()) {
            (true, true) => return false,
            (true, false) => true,
            (false, true) => false,
            (false, false) => self.rng.chance(0.3),
        };
        if conflict {
            self.gen_text(5, 120, None);
        }
        let pool = if use_prev { &self.prev } else { &self.cur };
        let e = &pool.entries[self.rng.index(pool.entries.len())];
        self.line.clear();
        if conflict {
            let (cs, ce) = e.content;
            loop {
                self.line.clear();
                self.line.extend_from_slice(&e.line[..cs]);
                push_json_str(&mut self.line, &self.content);
                self.line.extend_from_slice(&e.line[ce..]);
                if self.line != e.line {
                    break;
                }
                self.content.push_str("（已编辑）");
            }
            self.stats.conflicts += 1;
        } else {
            self.line.extend_from_slice(&e.line);
            self.stats.dups += 1;
        }
        true
    }

    fn malformed(&mut self, kind: Bad, secs: u64) {
        let text = Tweak {
            text_only: true,
            ..Tweak::default()
        };
        match kind {
            Bad::Truncated => {
                self.fresh(secs, text);
                let hi = self.line.len().min(64) as u64;
                let cut = self.rng.range(8, hi - 1) as usize;
                self.line.truncate(cut);
            }
            Bad::Array => {
                self.line.clear();
                let a = ARRAYS[self.rng.index(ARRAYS.len())];
                self.line.extend_from_slice(a);
            }
            Bad::TwoObjects => {
                self.fresh(secs, text);
                std::mem::swap(&mut self.line, &mut self.tmp);
                self.fresh(secs, text);
                if self.rng.chance(0.5) {
                    self.tmp.push(b' ');
                }
                self.tmp.extend_from_slice(&self.line);
                std::mem::swap(&mut self.line, &mut self.tmp);
            }
            Bad::MissingId => {
                let t = Tweak {
                    missing_id: true,
                    ..text
                };
                self.fresh(secs, t);
            }
            Bad::TimeWord => {
                let t = Tweak {
                    time_word: true,
                    ..text
                };
                self.fresh(secs, t);
            }
            Bad::LoneSurrogate => {
                let (_, end) = self.fresh(secs, text);
                insert_bytes(&mut self.line, end - 1, b"\\ud83d");
            }
            Bad::TypeStr => {
                let t = Tweak {
                    type_str: true,
                    ..text
                };
                self.fresh(secs, t);
            }
            Bad::InvalidUtf8 => {
                let (start, _) = self.fresh(secs, text);
                insert_bytes(&mut self.line, start + 1, &[0xff, 0xfe]);
            }
        }
    }

    /// Serializes one new message into `self.line`; returns the content range.
    fn fresh(&mut self, secs: u64, tw: Tweak) -> (usize, usize) {
        let w = self.w;
        let short = self.cfg.profile == Profile::Short;
        let seq = self.seq;
        self.seq += 1;
        let x = mix60(seq.wrapping_add(self.id_salt));
        let big = tw.big_id || self.rng.chance(1.0 / 200.0);
        self.stats.big_ids += u64::from(big);
        let id_value = if big { BIG_ID_BASE + x } else { ID_BASE + x };
        let id = if tw.missing_id {
            IdField::Missing
        } else if self.rng.chance(0.05) {
            self.stats.str_ids += 1;
            IdField::Str(id_value)
        } else {
            IdField::Int(id_value)
        };
        let time = if tw.time_word {
            TimeField::Word("yesterday")
        } else {
            let r = self.rng.f64();
            if r < 0.01 {
                self.stats.str_times += 1;
                TimeField::Digits(secs)
            } else if r < 0.03 {
                self.stats.ms_times += 1;
                TimeField::Millis(secs * 1000 + self.rng.below(1000))
            } else {
                TimeField::Secs(secs)
            }
        };
        let kind: u32 = if short || tw.text_only {
            1
        } else {
            match self.rng.below(100) {
                0..=59 => 1,
                60..=71 => 3,
                72..=79 => 34,
                80..=81 => 43,
                82..=86 => 47,
                87..=96 => 49,
                _ => 10_000,
            }
        };

        let owner = w.owner.as_str();
        let group = self.rng.chance(0.7);
        let owner_sent = self.rng.chance(if group { 0.08 } else { 0.15 });
        let mut members = 2;
        let (from, to, chatroom, sender, actual) = if group {
            let r = w.room_zipf.sample(&mut self.rng);
            let room = w.rooms[r].as_str();
            members = w.room_members[r];
            if owner_sent {
                (owner, room, Some(room), Some(owner), owner)
            } else {
                let u = w.users[w.user_zipf.sample(&mut self.rng)].as_str();
                let sender = if kind == 10_000 && !short {
                    None
                } else {
                    Some(u)
                };
                (room, owner, Some(room), sender, u)
            }
        } else {
            let peer = w.users[w.user_zipf.sample(&mut self.rng)].as_str();
            let chatroom = if short || self.rng.chance(0.5) {
                Some("")
            } else {
                None
            };
            let sender = if short { Some("") } else { None };
            if owner_sent {
                (owner, peer, chatroom, sender, owner)
            } else {
                (peer, owner, chatroom, sender, peer)
            }
        };

        let mention = if group && kind == 1 && !short && self.rng.chance(0.08) {
            Some(self.w.user_zipf.sample(&mut self.rng))
        } else {
            None
        };
        match kind {
            1 if short => self.gen_text(10, 100, None),
            1 => self.gen_text(5, 200, mention.map(|u| NICKS[u % NICKS.len()])),
            3 => self.gen_image(),
            34 => self.gen_voice(actual),
            43 => self.gen_video(actual),
            47 => self.gen_sticker(actual, to),
            49 => self.gen_app(actual),
            _ => self.gen_system(),
        }

        let at = mention.map(|u| w.users[u].as_str());
        let source = if short {
            self.gen_short_source(group, members);
            SourceField::Xml
        } else {
            let r = self.rng.f64();
            if r < 0.007 {
                SourceField::Object {
                    at: at.unwrap_or(actual),
                    silence: self.rng.below(2),
                }
            } else if r < 0.01 {
                SourceField::Int(self.rng.below(2))
            } else {
                self.gen_source(kind, group, members, at);
                SourceField::Xml
            }
        };

        let extras = if !short && self.rng.chance(0.2) {
            self.gen_extras(owner_sent)
        } else {
            Extras::default()
        };
        let mut msg_type = if tw.type_str {
            TypeField::Str("abc")
        } else {
            TypeField::Int(kind)
        };
        // Only with --wechat4 (its draws would change every other generated lake otherwise).
        let mut sender = sender;
        if self.cfg.wechat4 && !tw.type_str {
            if kind == 49 && self.rng.chance(0.3) {
                let subtype = self
                    .content
                    .split_once("<type>")
                    .and_then(|(_, rest)| rest.split_once("</type>"))
                    .and_then(|(n, _)| n.trim().parse::<u64>().ok())
                    .unwrap_or(5);
                msg_type = TypeField::Packed(subtype << 32 | 49);
            }
            if kind == 1 && group && !owner_sent && sender.is_some() && self.rng.chance(0.3) {
                self.content.insert_str(0, &format!("{actual}:\n"));
                sender = Some("");
            }
        }
        let rec = Rec {
            id,
            time,
            msg_type,
            from,
            to,
            chatroom,
            sender,
            source,
            extras,
        };
        self.line.clear();
        write_record(&mut self.line, &rec, &self.content, &self.source)
    }

    fn gen_extras(&mut self, owner_sent: bool) -> Extras {
        let r = &mut self.rng;
        let mut mask = 0;
        while mask == 0 {
            for bit in 0..6 {
                if r.chance(0.35) {
                    mask |= 1 << bit;
                }
            }
        }
        Extras {
            mask,
            status: r.range(1, 4),
            is_sender: u64::from(owner_sent),
            talker_id: r.range(1, 5000),
            path: (r.next_u64(), r.next_u64()),
            ext: r.below(3) as u8,
            year: self.year,
            month: self.month,
        }
    }

    /// Mixed Chinese/English text with emoji, `min..=max` characters (skewed short).
    fn gen_text(&mut self, min_chars: usize, max_chars: usize, mention: Option<&str>) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        let u = r.f64();
        let target = min_chars + ((max_chars - min_chars) as f64 * u * u * u.sqrt()) as usize;
        let mut n = 0;
        if let Some(nick) = mention {
            s.push('@');
            s.push_str(nick);
            s.push('\u{2005}');
            n += nick.chars().count() + 2;
        }
        while n < target {
            let pool = match r.below(100) {
                0..=54 => CN,
                55..=69 => EN,
                70..=79 => EMOJI,
                80..=94 => PUNCT,
                _ => SPECIAL,
            };
            let tok = r.pick(pool);
            s.push_str(tok);
            n += tok.chars().count();
        }
        while n > max_chars {
            s.pop();
            n -= 1;
        }
    }

    fn gen_image(&mut self) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        s.push_str("<?xml version=\"1.0\"?>\n<msg>\n\t<img aeskey=\"");
        push_hex(s, r, 32);
        s.push_str("\" encryver=\"1\" cdnthumbaeskey=\"");
        push_hex(s, r, 32);
        s.push_str("\" cdnthumburl=\"");
        push_cdn(s, r, 120, 300);
        let (w, h) = (r.range(90, 270), r.range(90, 270));
        write!(
            s,
            "\" cdnthumblength=\"{}\" cdnthumbheight=\"{h}\" cdnthumbwidth=\"{w}\" \
             cdnmidheight=\"0\" cdnmidwidth=\"0\" cdnhdheight=\"0\" cdnhdwidth=\"0\" \
             cdnmidimgurl=\"",
            r.range(2_000, 20_000)
        )
        .expect("writing to a String cannot fail");
        push_cdn(s, r, 120, 300);
        write!(s, "\" length=\"{}\" ", r.range(20_000, 3_000_000))
            .expect("writing to a String cannot fail");
        if r.chance(0.4) {
            s.push_str("cdnbigimgurl=\"");
            push_cdn(s, r, 120, 300);
            write!(s, "\" hdlength=\"{}\" ", r.range(500_000, 9_000_000))
                .expect("writing to a String cannot fail");
        }
        s.push_str("md5=\"");
        push_hex(s, r, 32);
        write!(
            s,
            "\" hevc_mid_size=\"{}\" originsourcemd5=\"",
            r.range(10_000, 400_000)
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        s.push_str(
            "\" />\n\t<platform_signature></platform_signature>\n\t<imgdatahash></imgdatahash>\n</msg>\n",
        );
    }

    fn gen_voice(&mut self, from: &str) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        let ms = r.range(1_000, 59_000);
        write!(
            s,
            "<msg><voicemsg endflag=\"1\" cancelflag=\"0\" forwardflag=\"0\" voiceformat=\"4\" \
             voicelength=\"{ms}\" length=\"{}\" bufid=\"0\" aeskey=\"",
            ms / 2 + r.range(0, 2_000)
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        s.push_str("\" voiceurl=\"");
        push_cdn(s, r, 150, 260);
        s.push_str("\" voicemd5=\"\" clientmsgid=\"41");
        push_hex(s, r, 30);
        write!(
            s,
            "{from}_{}_{}\" fromusername=\"{from}\" /></msg>",
            r.range(100, 999),
            r.range(1_700_000_000, 1_799_999_999)
        )
        .expect("writing to a String cannot fail");
    }

    fn gen_video(&mut self, from: &str) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        s.push_str("<?xml version=\"1.0\"?>\n<msg>\n\t<videomsg aeskey=\"");
        push_hex(s, r, 32);
        s.push_str("\" cdnvideourl=\"");
        push_cdn(s, r, 200, 320);
        s.push_str("\" cdnthumbaeskey=\"");
        push_hex(s, r, 32);
        s.push_str("\" cdnthumburl=\"");
        push_cdn(s, r, 200, 320);
        write!(
            s,
            "\" length=\"{}\" playlength=\"{}\" cdnthumblength=\"{}\" cdnthumbwidth=\"{}\" \
             cdnthumbheight=\"{}\" fromusername=\"{from}\" md5=\"",
            r.range(200_000, 50_000_000),
            r.range(1, 300),
            r.range(5_000, 60_000),
            r.range(200, 1080),
            r.range(200, 1920)
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        s.push_str("\" newmd5=\"");
        push_hex(s, r, 32);
        s.push_str(
            "\" isplaceholder=\"0\" rawmd5=\"\" rawlength=\"0\" cdnrawvideourl=\"\" \
             cdnrawvideoaeskey=\"\" overwritenewmsgid=\"0\" originsourcemd5=\"",
        );
        push_hex(s, r, 32);
        s.push_str("\" isad=\"0\" />\n</msg>\n");
    }

    fn gen_sticker(&mut self, from: &str, to: &str) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        write!(
            s,
            "<msg><emoji fromusername=\"{from}\" tousername=\"{to}\" type=\"2\" \
             idbuffer=\"media:0_0\" md5=\""
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        let len = r.range(5_000, 900_000);
        write!(
            s,
            "\" len=\"{len}\" productid=\"\" androidmd5=\"\" androidlen=\"0\" \
             s60v3md5=\"\" s60v3len=\"0\" s60v5md5=\"\" s60v5len=\"0\" \
             cdnurl=\"http://wxapp.tc.qq.com/262/20304/stodownload?m="
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        s.push_str("&amp;filekey=30350201010421301f020201060402535a0410");
        push_hex(s, r, 32);
        s.push_str("&amp;hy=SZ&amp;storeid=");
        push_hex(s, r, 48);
        s.push_str("&amp;bizid=1023\" designerid=\"\" thumburl=\"\" encrypturl=\"http://wxapp.tc.qq.com/262/20304/stodownload?m=");
        push_hex(s, r, 32);
        s.push_str("&amp;filekey=30350201010421301f020201060402535a0410");
        push_hex(s, r, 32);
        s.push_str("&amp;bizid=1023\" aeskey=\"");
        push_hex(s, r, 32);
        let side = r.range(120, 640);
        write!(
            s,
            "\" externurl=\"\" externmd5=\"\" width=\"{side}\" height=\"{side}\" tpurl=\"\" \
             tpauthkey=\"\" attachedtext=\"\" attachedtextcolor=\"\" lensid=\"\" \
             emojiattr=\"\" linkid=\"\" desc=\"\" /></msg>"
        )
        .expect("writing to a String cannot fail");
    }

    fn gen_system(&mut self) {
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        let (a, b) = (r.pick(NICKS), r.pick(NICKS));
        let res = match r.below(8) {
            0 => write!(s, "\"{a}\"邀请\"{b}\"加入了群聊"),
            1 => write!(s, "\"{a}\" 撤回了一条消息"),
            2 => write!(s, "你已添加了{a}，现在可以开始聊天了。"),
            3 => write!(s, "\"{a}\"修改群名为“{b}的小群”"),
            4 => write!(s, "\"{a}\" 拍了拍 \"{b}\""),
            5 => write!(s, "以上是打招呼的内容"),
            6 => write!(s, "收到红包，请在手机上查看"),
            _ => write!(s, "\"{a}\"与群里其他人都不是朋友关系，请注意隐私安全"),
        };
        res.expect("writing to a String cannot fail");
    }

    /// App message (type 49): link, chat history, file or quote reply, 2-40 KiB of
    /// XML, about a third with a large base64 thumbnail.
    fn gen_app(&mut self, from: &str) {
        let w = self.w;
        let cap = self.cfg.max_app_bytes;
        let now = self.midnight;
        let (s, r) = (&mut self.content, &mut self.rng);
        s.clear();
        let (lo, hi) = (2_048f64.ln(), 40_960f64.ln());
        let mut target = (lo + (hi - lo) * r.f64()).exp() as usize;
        if let Some(c) = cap {
            target = target.min(c);
        }
        let sub = match r.below(100) {
            0..=59 => 5,
            60..=79 => 19,
            80..=91 => 6,
            _ => 57,
        };
        let acct = r.index(ACCOUNTS.len());
        s.push_str(
            "<?xml version=\"1.0\"?>\n<msg>\n\t<appmsg appid=\"\" sdkver=\"0\">\n\t\t<title>",
        );
        match sub {
            5 => s.push_str(r.pick(TITLES)),
            19 => {
                let (a, b) = (r.pick(NICKS), r.pick(NICKS));
                write!(s, "{a}和{b}的聊天记录").expect("writing to a String cannot fail");
            }
            6 => s.push_str(r.pick(FILES)),
            _ => s.push_str(r.pick(CN)),
        }
        s.push_str("</title>\n\t\t<des>");
        let des = r.range(20, 300) as usize;
        push_prose(s, r, des);
        write!(
            s,
            "</des>\n\t\t<action>view</action>\n\t\t<type>{sub}</type>\n\t\t<showtype>0</showtype>\n\t\t<content />\n\t\t<url>"
        )
        .expect("writing to a String cannot fail");
        match sub {
            5 => push_mp_url(s, r),
            19 => s.push_str(
                "https://support.weixin.qq.com/cgi-bin/mmsupport-bin/readtemplate?t=page/favorite_record__w_unsupport&amp;from=singlemessage&amp;isappinstalled=0",
            ),
            _ => {}
        }
        s.push_str("</url>\n\t\t<dataurl />\n\t\t<lowurl />\n\t\t<lowdataurl />\n");
        if sub == 57 {
            write!(
                s,
                "\t\t<refermsg>\n\t\t\t<type>1</type>\n\t\t\t<svrid>{}</svrid>\n\t\t\t<fromusr>{from}</fromusr>\n\t\t\t<chatusr>{from}</chatusr>\n\t\t\t<displayname>{}</displayname>\n\t\t\t<content>",
                ID_BASE + mix60(r.next_u64()),
                r.pick(NICKS)
            )
            .expect("writing to a String cannot fail");
            let quoted = r.range(10, 400) as usize;
            push_prose(s, r, quoted);
            write!(
                s,
                "</content>\n\t\t\t<createtime>{}</createtime>\n\t\t</refermsg>\n",
                now.saturating_sub(r.below(86_400))
            )
            .expect("writing to a String cannot fail");
        }
        let total = if sub == 6 {
            r.range(10_000, 80_000_000)
        } else {
            0
        };
        let ext = if sub == 6 { "pdf" } else { "" };
        write!(
            s,
            "\t\t<appattach>\n\t\t\t<totallen>{total}</totallen>\n\t\t\t<attachid>@cdn_"
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 64);
        s.push_str("_1</attachid>\n\t\t\t<emoticonmd5 />\n\t\t\t<fileext>");
        s.push_str(ext);
        s.push_str("</fileext>\n\t\t\t<cdnthumburl>");
        push_cdn(s, r, 200, 320);
        s.push_str("</cdnthumburl>\n\t\t\t<cdnthumbmd5>");
        push_hex(s, r, 32);
        write!(
            s,
            "</cdnthumbmd5>\n\t\t\t<cdnthumblength>{}</cdnthumblength>\n\t\t\t<cdnthumbwidth>{}</cdnthumbwidth>\n\t\t\t<cdnthumbheight>{}</cdnthumbheight>\n\t\t\t<cdnthumbaeskey>",
            r.range(3_000, 90_000),
            r.range(120, 1080),
            r.range(120, 1080)
        )
        .expect("writing to a String cannot fail");
        push_hex(s, r, 32);
        s.push_str("</cdnthumbaeskey>\n\t\t\t<aeskey>");
        push_hex(s, r, 32);
        write!(
            s,
            "</aeskey>\n\t\t\t<encryver>0</encryver>\n\t\t\t<filekey>{from}_{}_{}_cooperation</filekey>\n\t\t</appattach>\n\t\t<extinfo />\n\t\t<sourceusername>{}</sourceusername>\n\t\t<sourcedisplayname>{}</sourcedisplayname>\n\t\t<thumburl>https://mmbiz.qpic.cn/mmbiz_jpg/",
            r.range(100, 999),
            r.range(1_700_000_000, 1_799_999_999),
            w.official[acct],
            ACCOUNTS[acct]
        )
        .expect("writing to a String cannot fail");
        push_b64(s, r, 80);
        s.push_str("/640?wx_fmt=jpeg</thumburl>\n\t\t<md5>");
        push_hex(s, r, 32);
        s.push_str("</md5>\n");

        // Padding: article items for links, message items for chat histories.
        const TAIL: usize = 260;
        if sub == 5 {
            s.push_str("\t\t<webviewshared>\n\t\t\t<shareUrlOriginal>");
            push_mp_url(s, r);
            s.push_str("</shareUrlOriginal>\n\t\t\t<publisherId>msg_");
            push_num(s, r.range(1_000_000_000, 9_999_999_999));
            write!(
                s,
                "</publisherId>\n\t\t</webviewshared>\n\t\t<mmreader>\n\t\t\t<category type=\"20\">\n\t\t\t\t<name><![CDATA[{}]]></name>\n",
                ACCOUNTS[acct]
            )
            .expect("writing to a String cannot fail");
            while s.len() + TAIL + 200 < target {
                s.push_str("\t\t\t\t<item>\n\t\t\t\t\t<itemshowtype>0</itemshowtype>\n\t\t\t\t\t<title><![CDATA[");
                s.push_str(r.pick(TITLES));
                s.push_str("]]></title>\n\t\t\t\t\t<url><![CDATA[");
                push_mp_url(s, r);
                write!(
                    s,
                    "]]></url>\n\t\t\t\t\t<shorturl><![CDATA[]]></shorturl>\n\t\t\t\t\t<longurl><![CDATA[]]></longurl>\n\t\t\t\t\t<pub_time>{}</pub_time>\n\t\t\t\t\t<cover><![CDATA[https://mmbiz.qpic.cn/mmbiz_jpg/",
                    now.saturating_sub(r.below(7 * 86_400))
                )
                .expect("writing to a String cannot fail");
                push_b64(s, r, 80);
                s.push_str("/640?wx_fmt=jpeg]]></cover>\n\t\t\t\t\t<digest><![CDATA[");
                let digest = r.range(20, 120) as usize;
                push_prose(s, r, digest);
                write!(
                    s,
                    "]]></digest>\n\t\t\t\t\t<fileid>{}</fileid>\n\t\t\t\t\t<del_flag>0</del_flag>\n\t\t\t\t\t<contentattr>0</contentattr>\n\t\t\t\t\t<play_length>0</play_length>\n\t\t\t\t\t<template_op_type>0</template_op_type>\n\t\t\t\t</item>\n",
                    r.range(100_000_000, 999_999_999)
                )
                .expect("writing to a String cannot fail");
            }
            write!(
                s,
                "\t\t\t</category>\n\t\t\t<publisher>\n\t\t\t\t<username>{}</username>\n\t\t\t\t<nickname><![CDATA[{}]]></nickname>\n\t\t\t</publisher>\n\t\t</mmreader>\n",
                w.official[acct], ACCOUNTS[acct]
            )
            .expect("writing to a String cannot fail");
        } else if sub == 19 {
            s.push_str("\t\t<recorditem><![CDATA[<recordinfo><title>聊天记录</title><datalist count=\"0\">");
            while s.len() + TAIL + 120 < target {
                s.push_str("<dataitem datatype=\"1\" dataid=\"");
                push_hex(s, r, 32);
                s.push_str("\"><datadesc>");
                let n = r.range(5, 150) as usize;
                push_prose(s, r, n);
                let t = now.saturating_sub(r.below(30 * 86_400));
                write!(
                    s,
                    "</datadesc><sourcename>{}</sourcename><sourcetime>{t}</sourcetime><srcMsgCreateTime>{t}</srcMsgCreateTime><fromnewmsgid>{}</fromnewmsgid><dataitemsource><hashusername>",
                    r.pick(NICKS),
                    ID_BASE + mix60(r.next_u64())
                )
                .expect("writing to a String cannot fail");
                push_hex(s, r, 64);
                s.push_str("</hashusername></dataitemsource></dataitem>");
            }
            s.push_str("</datalist></recordinfo>]]></recorditem>\n");
        }

        // Embedded thumbnail (base64 JPEG): the bulk of the bytes of a realistic lake.
        if r.chance(0.34) {
            let mut len = r.range(64 * 1024, 640 * 1024) as usize;
            if let Some(c) = cap {
                len = len.min(c.saturating_sub(s.len() + TAIL + 40));
            }
            if len >= 1024 {
                s.push_str("\t\t<thumbdata>/9j/4AAQSkZJRgABAQAAAQABAAD/");
                push_b64(s, r, len / 4 * 4);
                s.push_str("</thumbdata>\n");
            }
        }
        write!(
            s,
            "\t</appmsg>\n\t<fromusername>{from}</fromusername>\n\t<scene>0</scene>\n\t<appinfo>\n\t\t<version>1</version>\n\t\t<appname></appname>\n\t</appinfo>\n\t<commenturl></commenturl>\n</msg>\n"
        )
        .expect("writing to a String cannot fail");
    }

    /// The `<msgsource>` XML of the realistic profile (~100-600 bytes).
    fn gen_source(&mut self, kind: u32, group: bool, members: u64, at: Option<&str>) {
        let (s, r) = (&mut self.source, &mut self.rng);
        s.clear();
        s.push_str("<msgsource>\n");
        if r.chance(0.3) {
            s.push_str("\t<bizflag>0</bizflag>\n");
        }
        if r.chance(0.4) {
            s.push_str("\t<pua>1</pua>\n");
        }
        if group {
            writeln!(
                s,
                "\t<silence>{}</silence>\n\t<membercount>{members}</membercount>",
                r.below(2)
            )
            .expect("writing to a String cannot fail");
        }
        if let Some(at) = at {
            writeln!(s, "\t<atuserlist><![CDATA[{at}]]></atuserlist>")
                .expect("writing to a String cannot fail");
        }
        if kind == 3 {
            writeln!(
                s,
                "\t<imgmsg_pd cdnmidimgurl_size=\"{}\" cdnmidimgurl_pd_pri=\"30\" cdnmidimgurl_pd=\"0\" />",
                r.range(10_000, 300_000)
            )
            .expect("writing to a String cannot fail");
        }
        if r.chance(0.2) {
            s.push_str("\t<eggIncluded>1</eggIncluded>\n");
        }
        s.push_str("\t<signature>V1_");
        push_alnum(s, r, 8);
        s.push_str("|v1_");
        push_alnum(s, r, 8);
        s.push_str(
            "</signature>\n\t<tmp_node>\n\t\t<publisher-id></publisher-id>\n\t</tmp_node>\n",
        );
        if r.chance(0.5) {
            s.push_str("\t<sec_msg_node>\n\t\t<uuid>");
            push_hex(s, r, 32);
            s.push_str(
                "_</uuid>\n\t\t<risk-file-flag />\n\t\t<risk-file-md5-list />\n\t</sec_msg_node>\n",
            );
        }
        if r.chance(0.15) {
            s.push_str("\t<alnode>\n\t\t<fr>1</fr>\n\t\t<cf>3</cf>\n\t</alnode>\n");
        }
        s.push_str("</msgsource>\n");
    }

    /// The small `<msgsource>` of the short profile.
    fn gen_short_source(&mut self, group: bool, members: u64) {
        let (s, r) = (&mut self.source, &mut self.rng);
        s.clear();
        s.push_str("<msgsource>\n\t<signature>V1_");
        push_alnum(s, r, 8);
        s.push_str("|v1_");
        push_alnum(s, r, 8);
        s.push_str("</signature>\n");
        if group {
            writeln!(
                s,
                "\t<silence>{}</silence>\n\t<membercount>{members}</membercount>",
                r.below(2)
            )
            .expect("writing to a String cannot fail");
        }
        s.push_str("\t<tmp_node>\n\t\t<publisher-id></publisher-id>\n\t</tmp_node>\n");
        if r.chance(0.55) {
            s.push_str("\t<sec_msg_node>\n\t\t<uuid>");
            push_hex(s, r, 32);
            s.push_str("_</uuid>\n\t</sec_msg_node>\n");
        }
        s.push_str("</msgsource>\n");
    }
}

// ---------------------------------------------------------------- envelope mode

/// `notify_type` of the webhook envelopes (see the module docs).
const NT_MESSAGE: u64 = 1010;
const NT_CONTACT: u64 = 1200;
const NT_DELETE: u64 = 1201;
const NT_DETAIL: u64 = 1202;
const NT_UNKNOWN: u64 = 1003;

/// The nickname two different persons share, users[0] and users[ZHANG_WEI_TWIN]
/// ("张伟"): the case where resolving a contact by name is ambiguous.
const AMBIGUOUS_NICK: &str = NICKS[0];
/// Messages @mention user `u` as `NICKS[u % NICKS.len()]`, so this second
/// "张伟" is mentioned by that name too.
const ZHANG_WEI_TWIN: usize = NICKS.len();
const OWNER_NICK: &str = "湖边的风";

const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "丽",
    "强", "平", "刚", "鹏", "华", "飞", "玲", "婷", "宇", "浩", "凯", "雪", "晨", "欣", "子涵",
    "雨桐", "思远", "浩然", "嘉怡", "俊杰", "欣怡", "梓轩", "一鸣", "文博",
];

const GROUP_TOPICS: &[&str] = &[
    "技术交流",
    "家族",
    "小区业主",
    "项目协作",
    "羽毛球",
    "大学同学",
    "宝妈交流",
    "读书会",
    "跑步打卡",
    "摄影爱好者",
];

/// What people append to their nickname when they change it.
const NICK_DECOR: &[&str] = &["🌸", "～", "（忙）", "_2026", "·上海", "呀", "🍀", " Lucky"];

const REMARKS: &[&str] = &[
    "同事",
    "大学同学",
    "房东",
    "客户",
    "表哥",
    "二姨",
    "健身教练",
    "快递",
    "老板",
    "物业",
    "中介",
    "高中同学",
];

const SIGNATURES: &[&str] = &[
    "",
    "",
    "",
    "生活明朗，万物可爱",
    "不忘初心",
    "Stay hungry, stay foolish",
    "忙，勿扰",
    "今天也要加油鸭🦆",
    "岁月静好",
    "\"知足常乐\"",
];

/// `country`, `province`, `city` as the pad protocol spells them.
const REGIONS: &[(&str, &str, &str)] = &[
    ("", "", ""),
    ("CN", "Shanghai", "Pudong New District"),
    ("CN", "Shanghai", "Xuhui"),
    ("CN", "Zhejiang", "Hangzhou"),
    ("CN", "Guangdong", "Shenzhen"),
    ("CN", "Beijing", "Haidian"),
    ("CN", "Sichuan", "Chengdu"),
    ("CN", "Jiangsu", "Suzhou"),
    ("US", "California", "San Francisco"),
];

const MOBILE_PREFIXES: &[&str] = &[
    "138", "139", "136", "135", "186", "188", "159", "150", "177", "199", "133", "189",
];

const JOB_TITLES: &[&str] = &["产品经理", "销售总监", "高级工程师", "HR"];

/// `data` of the 1003 events nobody documents.
const EVENT_BODIES: &[&[u8]] = &[
    b"{\"type\": \"heartbeat\", \"status\": \"online\"}",
    b"{\"code\": 3, \"msg\": \"session refreshed\"}",
    b"{\"type\": 2, \"list\": []}",
    b"{\"event\": \"login_qrcode_expired\", \"retry\": true}",
];

/// Pinyin of every CJK character the contact names above use: each entry is
/// the character, then its syllable.
const PINYIN: &str = concat!(
    "张zhang 伟wei 王wang 芳fang 李li 娜na 小xiao 明ming 阿a 杰jie ",
    "陈chen 老lao 师shi 刘liu 总zong 妈ma 托tuo 尼ni 赵zhao 磊lei 孙sun ",
    "悦yue 周zhou 吴wu 工gong 郑zheng 经jing 理li 胖pang 大da 壮zhuang ",
    "林lin 花hua 杨yang 黄huang 徐xu 马ma 朱zhu 胡hu 郭guo 何he 高gao ",
    "罗luo 敏min 静jing 洋yang 艳yan 勇yong 军jun 娟juan 涛tao 超chao ",
    "丽li 强qiang 平ping 刚gang 鹏peng 华hua 飞fei 玲ling 婷ting 宇yu ",
    "浩hao 凯kai 雪xue 晨chen 欣xin 子zi 涵han 雨yu 桐tong 思si 远yuan ",
    "然ran 嘉jia 怡yi 俊jun 梓zi 轩xuan 一yi 鸣ming 文wen 博bo 技ji 术shu ",
    "交jiao 流liu 家jia 族zu 区qu 业ye 主zhu 项xiang 目mu 协xie 作zuo ",
    "羽yu 毛mao 球qiu 学xue 同tong 宝bao 读du 书shu 会hui 跑pao 步bu 打da ",
    "卡ka 摄she 影ying 爱ai 好hao 者zhe 群qun 新xin 湖hu 边bian 的de ",
    "风feng 上shang 海hai 发fa 布bu 人ren 民min 日ri 报bao 极ji 客ke ",
    "时shi 间jian 语yu 言yan 中zhong 社she 丁ding 香xiang 医yi 生sheng ",
    "氪ke 国guo 气qi 象xiang 局ju 事shi 房fang 东dong 户hu 表biao 哥ge ",
    "二er 姨yi 健jian 身shen 教jiao 练lian 快kuai 递di 板ban 物wu 介jie ",
    "忙mang 呀ya",
);

/// WeChat's `pyinitial` (upper-case initials) and `quanPin` (pinyin) of a name;
/// Latin letters and digits are kept, emoji and punctuation dropped.
fn pinyin(name: &str) -> (String, String) {
    let (mut initials, mut full) = (String::new(), String::new());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            initials.push(c.to_ascii_uppercase());
            full.push(c);
        } else if let Some(entry) = PINYIN.split(' ').find(|e| e.starts_with(c)) {
            let py = &entry[c.len_utf8()..];
            initials.push(py.as_bytes()[0].to_ascii_uppercase() as char);
            full.push_str(py);
        }
    }
    (initials, full)
}

fn capitalized(s: &str) -> String {
    let mut it = s.chars();
    match it.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + it.as_str(),
        None => String::new(),
    }
}

/// A random person's name: Chinese ("王磊") or pinyin ("Zihan Li"); may be taken.
fn person_name(r: &mut Rng) -> String {
    let (sur, given) = (r.pick(SURNAMES), r.pick(GIVEN));
    if r.chance(0.75) {
        format!("{sur}{given}")
    } else {
        format!(
            "{} {}",
            capitalized(&pinyin(given).1),
            capitalized(&pinyin(sur).1)
        )
    }
}

/// A remark the owner might give: a relation, or the name with a tag.
fn remark_text(r: &mut Rng, base: &str) -> String {
    let tag = r.pick(REMARKS);
    if r.chance(0.5) {
        tag.to_string()
    } else {
        format!("{base}-{tag}")
    }
}

/// A lower-case uuid4-shaped string literal, quotes included.
fn push_guid(out: &mut Vec<u8>, r: &mut Rng) {
    let (a, b) = (r.next_u64(), r.next_u64());
    let mut h = [0u8; 32];
    for i in 0..16 {
        h[i] = HEX[((a >> (60 - 4 * i)) & 15) as usize];
        h[16 + i] = HEX[((b >> (60 - 4 * i)) & 15) as usize];
    }
    h[12] = b'4';
    h[16] = HEX[8 | ((b >> 60) & 3) as usize];
    out.push(b'"');
    for (i, &c) in h.iter().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push(b'-');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// `{"string": "…"}`, the pad protocol's wrapped string.
fn push_wrapped(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(b"{\"string\": ");
    push_json_str(out, s);
    out.push(b'}');
}

fn put_u64(out: &mut Vec<u8>, first: &mut bool, k: &str, v: u64) {
    key(out, first, k);
    push_u64(out, v);
}

fn put_str(out: &mut Vec<u8>, first: &mut bool, k: &str, v: &str) {
    key(out, first, k);
    push_json_str(out, v);
}

fn put_wrapped(out: &mut Vec<u8>, first: &mut bool, k: &str, v: &str) {
    key(out, first, k);
    push_wrapped(out, v);
}

fn put_raw(out: &mut Vec<u8>, first: &mut bool, k: &str, json: &[u8]) {
    key(out, first, k);
    out.extend_from_slice(json);
}

fn write_extra_line(out: &mut impl Write, line: &[u8], st: &mut Stats) -> io::Result<()> {
    out.write_all(line)?;
    out.write_all(b"\n")?;
    st.lines += 1;
    st.bytes += line.len() as u64 + 1;
    st.max_line = st.max_line.max(line.len() as u64);
    Ok(())
}

#[derive(Default)]
struct EnvStats {
    envelope_messages: u64,
    flat_messages: u64,
    retries: u64,
    contact_updates: u64,
    contact_deletes: u64,
    contact_details: u64,
    events: u64,
}

/// What a message line of `run_day` is, for the envelope it gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MsgLine {
    Fresh,
    Resend,
    MissingId,
    Malformed,
}

/// A contact or event line planned between message lines.
#[derive(Clone, Copy)]
enum Extra {
    /// A contact update of this contact, or (`None`) a random one or a rename.
    Update(Option<usize>),
    /// A contact update of an ordinary person, so that a delete has a candidate.
    UpdatePerson,
    Delete,
    Detail,
    Event,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Owner,
    Person,
    Room,
    Official,
}

/// One World account as the contact list knows it.
struct Contact {
    user: String,
    kind: Kind,
    /// The name it started with; renames decorate or replace it.
    base: String,
    nick: String,
    remark: Option<String>,
    /// The "张伟" pair and official accounts keep their nickname.
    fixed_nick: bool,
    announced: bool,
    deleted: bool,
    /// Rooms: member count from the World; others 0.
    members: u64,
    sex: u64,
    alias: String,
    /// Persons always have one (for `customInfo.detail`), 30% show it as `mobile`.
    phone: String,
    show_mobile: bool,
    region: (&'static str, &'static str, &'static str),
    signature: String,
    verify_info: String,
    head: String,
    encrypt: String,
    /// Which of the 11 optional keys the record carries (at most 9: 46-55 keys).
    optional: u16,
    sns_bg: u64,
    scene: u64,
    flag: u64,
    /// Rooms: `chatroomVersion`, bumped by every update.
    version: u64,
}

impl Contact {
    fn new(r: &mut Rng, user: &str, kind: Kind, nick: String, members: u64) -> Self {
        let person = matches!(kind, Kind::Owner | Kind::Person);
        let sex = match (person, r.below(10)) {
            (false, _) | (true, 0) => 0,
            (true, 1..=5) => 1,
            _ => 2,
        };
        let mut alias = String::new();
        if person && r.chance(0.4) {
            let full = pinyin(&nick).1.to_ascii_lowercase();
            alias.push_str(if full.len() >= 2 { &full } else { "wx" });
            push_num(&mut alias, r.range(1970, 2008));
        }
        let mut phone = String::new();
        if person {
            phone.push_str(r.pick(MOBILE_PREFIXES));
            for _ in 0..8 {
                phone.push(char::from(b'0' + r.below(10) as u8));
            }
        }
        let show_mobile = person && r.chance(0.3);
        let region = match kind {
            Kind::Room => REGIONS[0],
            _ => REGIONS[r.index(REGIONS.len())],
        };
        let signature = match kind {
            Kind::Owner | Kind::Person => r.pick(SIGNATURES).to_string(),
            Kind::Official => format!("{nick}官方账号，欢迎关注"),
            Kind::Room => String::new(),
        };
        let verify_info = if kind == Kind::Official {
            format!("{nick}官方账号")
        } else {
            String::new()
        };
        let mut head = String::new();
        if kind != Kind::Room || r.chance(0.6) {
            push_alnum(&mut head, r, 40);
        }
        let mut encrypt = String::new();
        if kind == Kind::Person {
            encrypt.push_str("v3_020b3826fd030100000000");
            push_hex(&mut encrypt, r, 24);
            encrypt.push_str("@stranger");
        }
        // 0-9 of the 11 optional keys, so records span the whole 46-55.
        let mut optional = 0u16;
        for _ in 0..r.range(0, 9) {
            loop {
                let bit = 1 << r.below(11);
                if optional & bit == 0 {
                    optional |= bit;
                    break;
                }
            }
        }
        let sns_bg = if person && r.chance(0.5) {
            r.range(1_000_000_000_000_000_000, 9_000_000_000_000_000_000)
        } else {
            0
        };
        let scene = if kind == Kind::Person {
            [3, 14, 17, 30][r.index(4)]
        } else {
            0
        };
        let version = if kind == Kind::Room {
            r.range(700_000_000, 900_000_000)
        } else {
            0
        };
        let remark = if kind == Kind::Person && nick != AMBIGUOUS_NICK && r.chance(0.35) {
            Some(remark_text(r, &nick))
        } else {
            None
        };
        Contact {
            user: user.to_string(),
            kind,
            base: nick.clone(),
            fixed_nick: kind == Kind::Official || nick == AMBIGUOUS_NICK,
            nick,
            remark,
            announced: false,
            deleted: false,
            members,
            sex,
            alias,
            phone,
            show_mobile,
            region,
            signature,
            verify_info,
            head,
            encrypt,
            optional,
            sns_bg,
            scene,
            flag: u64::from(kind == Kind::Official),
            version,
        }
    }

    fn head_url(&self, size: &str) -> String {
        if self.head.is_empty() {
            return String::new();
        }
        let dir = if self.kind == Kind::Room {
            "mmcrhead"
        } else {
            "mmhead/ver_1"
        };
        format!("https://wx.qlogo.cn/{dir}/{}/{size}", self.head)
    }

    fn deletable(&self) -> bool {
        self.announced && !self.deleted && self.kind == Kind::Person && !self.fixed_nick
    }
}

/// Serializes `c` as the pad protocol's contact struct (the `data` of a 1200).
fn write_contact(out: &mut Vec<u8>, c: &Contact, r: &mut Rng) {
    let person = matches!(c.kind, Kind::Owner | Kind::Person);
    let room = c.kind == Kind::Room;
    let opt = |bit: u16| c.optional & (1 << bit) != 0;
    let (ini, full) = pinyin(&c.nick);
    let first = &mut true;
    out.push(b'{');
    put_wrapped(out, first, "userName", &c.user);
    put_wrapped(out, first, "nickName", &c.nick);
    put_wrapped(out, first, "pyinitial", &ini);
    put_wrapped(out, first, "quanPin", &full);
    put_u64(out, first, "sex", c.sex);
    put_raw(out, first, "imgBuf", b"{\"iLen\": 0}");
    put_u64(out, first, "bitMask", 4_294_967_295);
    put_u64(out, first, "bitVal", if room { 2 } else { 3 });
    put_u64(out, first, "imgFlag", if c.head.is_empty() { 2 } else { 1 });
    key(out, first, "remark");
    match &c.remark {
        None => out.extend_from_slice(b"{}"),
        // Some writers flatten the wrapper of this one field.
        Some(rm) if r.chance(0.1) => push_json_str(out, rm),
        Some(rm) => push_wrapped(out, rm),
    }
    let (rini, rfull) = c.remark.as_deref().map(pinyin).unwrap_or_default();
    for (k, v) in [("remarkPyinitial", &rini), ("remarkQuanPin", &rfull)] {
        key(out, first, k);
        if c.remark.is_some() {
            push_wrapped(out, v);
        } else {
            out.extend_from_slice(b"{}");
        }
    }
    put_u64(out, first, "contactType", 0);
    if opt(0) {
        put_u64(out, first, "roomInfoCount", 0);
    }
    put_raw(out, first, "domainList", b"{}");
    if opt(1) {
        put_u64(out, first, "chatRoomNotify", u64::from(room));
    }
    put_u64(out, first, "addContactScene", c.scene);
    put_str(out, first, "province", c.region.1);
    put_str(out, first, "city", c.region.2);
    put_str(out, first, "signature", &c.signature);
    if opt(2) {
        put_u64(out, first, "personalCard", u64::from(person));
    }
    put_u64(
        out,
        first,
        "hasWeiXinHdHeadImg",
        u64::from(!c.head.is_empty()),
    );
    put_u64(
        out,
        first,
        "verifyFlag",
        if c.kind == Kind::Official { 24 } else { 0 },
    );
    put_u64(out, first, "level", if person { 7 } else { 0 });
    put_u64(out, first, "source", c.scene);
    if opt(3) {
        put_u64(out, first, "weiboFlag", 0);
    }
    if opt(4) {
        put_u64(out, first, "albumStyle", 0);
    }
    if opt(5) {
        put_u64(out, first, "albumFlag", if person { 3 } else { 0 });
    }
    key(out, first, "snsUserInfo");
    out.extend_from_slice(b"{\"snsFlag\": ");
    push_u64(out, u64::from(person));
    out.extend_from_slice(b", \"snsBgobjectId\": ");
    push_u64(out, c.sns_bg);
    out.extend_from_slice(b", \"snsFlagEx\": ");
    push_u64(out, if person { 7297 } else { 0 });
    out.extend_from_slice(b", \"snsPrivacyRecent\": ");
    push_u64(out, if person { 72 } else { 0 });
    out.push(b'}');
    put_str(out, first, "country", c.region.0);
    put_str(out, first, "bigHeadImgUrl", &c.head_url("0"));
    put_str(out, first, "smallHeadImgUrl", &c.head_url("132"));
    put_raw(out, first, "customizedInfo", b"{\"brandFlag\": 0}");
    put_str(out, first, "encryptUserName", &c.encrypt);
    put_raw(
        out,
        first,
        "additionalContactList",
        b"{\"linkedinContactItem\": {}}",
    );
    put_u64(out, first, "chatroomVersion", c.version);
    put_u64(out, first, "chatroomMaxCount", if room { 500 } else { 0 });
    if opt(6) {
        put_u64(out, first, "chatroomAccessType", 0);
    }
    key(out, first, "newChatroomData");
    out.extend_from_slice(b"{\"memberCount\": ");
    push_u64(out, c.members);
    out.extend_from_slice(
        b", \"infoMask\": 0, \"chatRoomUserName\": \"\", \"watchMemberCount\": 0}",
    );
    put_u64(out, first, "deleteFlag", 0);
    put_raw(out, first, "phoneNumListInfo", b"{\"count\": 0}");
    if opt(7) {
        put_u64(out, first, "chatroomInfoVersion", c.version % 1000);
    }
    put_u64(out, first, "deleteContactScene", 0);
    put_u64(out, first, "chatroomStatus", if room { 524_288 } else { 0 });
    put_u64(out, first, "extFlag", 0);
    if opt(8) {
        put_u64(out, first, "textStatusFlag", 0);
    }
    put_str(out, first, "alias", &c.alias);
    put_str(
        out,
        first,
        "mobile",
        if c.show_mobile { &c.phone } else { "" },
    );
    // An int from most writers, a string from some.
    key(out, first, "flag");
    if r.chance(0.3) {
        out.push(b'"');
        push_u64(out, c.flag);
        out.push(b'"');
    } else {
        push_u64(out, c.flag);
    }
    put_str(out, first, "verifyInfo", &c.verify_info);
    put_str(out, first, "bitMask2", "0");
    put_str(out, first, "bitValue2", "0");
    put_str(
        out,
        first,
        "chatRoomBusinessType",
        if room { "0" } else { "" },
    );
    if opt(9) {
        put_raw(
            out,
            first,
            "ringBackSetting",
            b"{\"finderObjectId\": \"\", \"startTs\": 0, \"endTs\": 0}",
        );
    }
    put_raw(out, first, "contactExtraInfoBuf", b"{\"iLen\": 0}");
    put_u64(out, first, "isInChatRoom", u64::from(room));
    if opt(10) {
        put_u64(out, first, "eraseChatRoomMemberData", 0);
    }
    out.push(b'}');
}

/// Serializes the contact detail of a person (the `data` of a 1202): plain strings.
fn write_detail(out: &mut Vec<u8>, c: &Contact, r: &mut Rng) {
    let (ini, full) = pinyin(&c.nick);
    let remark = c.remark.as_deref().unwrap_or("");
    let (rini, rfull) = pinyin(remark);
    let scene = c.scene.to_string();
    let sex = c.sex.to_string();
    let first = &mut true;
    out.push(b'{');
    put_str(out, first, "tpUsername", &c.user);
    put_str(out, first, "nickname", &c.nick);
    put_str(out, first, "type", "1");
    put_str(out, first, "remark", remark);
    put_str(out, first, "bigHeadimg", &c.head_url("0"));
    put_str(out, first, "smallHeadimg", &c.head_url("132"));
    put_str(out, first, "source", &scene);
    put_str(out, first, "nicknamePyinit", &ini);
    put_str(out, first, "nicknameQuanpin", &full);
    put_str(out, first, "remarkPyinit", &rini);
    put_str(out, first, "remarkQuanpin", &rfull);
    // `detail` is JSON inside a string, and holds personal data to mask.
    let mut detail = format!("{{\"phone\":\"{}\"", c.phone);
    if r.chance(0.5) {
        write!(detail, ",\"title\":\"{}\"", r.pick(JOB_TITLES))
            .expect("writing to a String cannot fail");
    }
    detail.push('}');
    key(out, first, "customInfo");
    out.extend_from_slice(b"{\"detailVisible\": 1, \"detail\": ");
    push_json_str(out, &detail);
    out.push(b'}');
    put_str(out, first, "appId", "");
    put_str(out, first, "sex", &sex);
    put_str(out, first, "descWordingId", "");
    let mut finder = String::new();
    if r.chance(0.3) {
        finder.push_str("v2_060000231003b20f");
        push_hex(&mut finder, r, 40);
        finder.push_str("@finder");
    }
    put_str(out, first, "finderUsername", &finder);
    put_str(out, first, "flag", "0");
    out.push(b'}');
}

/// One contact delete every two days, on the day of the pair its own stream
/// draws: so any three consecutive days have one.
fn delete_today(seed: u64, day: u32) -> bool {
    let mut sm =
        seed ^ 0x4445_4C45_5445_0002 ^ u64::from(day / 2).wrapping_mul(0xD1B5_4A32_D192_ED03);
    Rng::new(splitmix64(&mut sm)).below(2) == u64::from(day % 2)
}

/// State of `--envelope`: the contact list (kept across days, so contacts have
/// a history) and a random stream of its own, reseeded every day.
struct Envelope {
    seed: u64,
    defects: bool,
    ensure_events: bool,
    rng: Rng,
    /// Owner, then World.users, World.rooms and World.official, in that order.
    contacts: Vec<Contact>,
    /// Nicknames in use, announced or not, so that renames stay unique.
    names: HashSet<String>,
    /// Contacts in the order of their first update.
    announced: Vec<usize>,
    /// `data` of the contact updates to retry at the next gap.
    retries: Vec<Vec<u8>>,
    data: Vec<u8>,
    line: Vec<u8>,
}

impl Envelope {
    fn new(w: &World, cfg: &Config) -> Self {
        let mut r = Rng::new(cfg.seed ^ 0x434F_4E54_4143_5453);
        let mut names = HashSet::new();
        let mut contacts = Vec::new();
        names.insert(OWNER_NICK.to_string());
        contacts.push(Contact::new(
            &mut r,
            &w.owner,
            Kind::Owner,
            OWNER_NICK.to_string(),
            0,
        ));
        for (i, u) in w.users.iter().enumerate() {
            let nick = if i < NICKS.len() {
                NICKS[i].to_string()
            } else if i == ZHANG_WEI_TWIN {
                AMBIGUOUS_NICK.to_string()
            } else {
                unique_name(&names, || person_name(&mut r))
            };
            names.insert(nick.clone());
            contacts.push(Contact::new(&mut r, u, Kind::Person, nick, 0));
        }
        for (i, room) in w.rooms.iter().enumerate() {
            let topic = GROUP_TOPICS[i % GROUP_TOPICS.len()];
            let nick = format!("{topic}群{}", i / GROUP_TOPICS.len() + 1);
            names.insert(nick.clone());
            contacts.push(Contact::new(
                &mut r,
                room,
                Kind::Room,
                nick,
                w.room_members[i],
            ));
        }
        for (i, gh) in w.official.iter().enumerate() {
            names.insert(ACCOUNTS[i].to_string());
            contacts.push(Contact::new(
                &mut r,
                gh,
                Kind::Official,
                ACCOUNTS[i].to_string(),
                0,
            ));
        }
        Envelope {
            seed: cfg.seed,
            defects: cfg.defects,
            ensure_events: cfg.defects && cfg.ensure_defects,
            rng: r,
            contacts,
            names,
            announced: Vec::new(),
            retries: Vec::new(),
            data: Vec::with_capacity(4096),
            line: Vec::with_capacity(1 << 16),
        }
    }

    /// Reseeds the stream for `day` and plans its contact and event lines as
    /// `(gap, what)`, sorted by gap; gap `g` comes before message line `g`.
    fn plan_day(&mut self, day: u32, n: usize) -> Vec<(usize, Extra)> {
        let mut sm =
            self.seed ^ 0x454E_5645_4C4F_5045 ^ u64::from(day).wrapping_mul(0xD1B5_4A32_D192_ED03);
        self.rng = Rng::new(splitmix64(&mut sm));
        let r = &mut self.rng;
        let mut plan = Vec::new();
        // The first day introduces the owner and both persons named 张伟, so the
        // ambiguity is in every run.
        if day == 0 {
            for idx in [0, 1, 1 + ZHANG_WEI_TWIN] {
                plan.push((0, Extra::Update(Some(idx))));
            }
        }
        let batch = r.range(3, 6) as usize;
        plan.push((0, Extra::UpdatePerson));
        while plan.len() < batch {
            plan.push((0, Extra::Update(None)));
        }
        for g in 1..=n {
            if r.chance(0.013) {
                plan.push((g, Extra::Update(None)));
            }
            if r.chance(0.001) {
                plan.push((g, Extra::Event));
            }
        }
        if delete_today(self.seed, day) {
            plan.push((1 + r.index(n), Extra::Delete));
        }
        for _ in 0..[0, 1, 1, 2][r.index(4)] {
            plan.push((1 + r.index(n), Extra::Detail));
        }
        if self.ensure_events && !plan.iter().any(|&(_, e)| matches!(e, Extra::Event)) {
            plan.push((1 + r.index(n), Extra::Event));
        }
        plan.sort_by_key(|&(g, _)| g);
        plan
    }

    /// Turns a message line into what the webhook forwarder writes.
    fn wrap_message(&mut self, line: &mut Vec<u8>, what: MsgLine, st: &mut EnvStats) {
        match what {
            MsgLine::Malformed => return,
            MsgLine::Fresh if self.rng.chance(0.05) => {
                // An older writer's flat line, a third of them with the envelope keys.
                st.flat_messages += 1;
                if self.rng.chance(1.0 / 3.0) {
                    self.line.clear();
                    self.line.extend_from_slice(b"\"guid\": ");
                    push_guid(&mut self.line, &mut self.rng);
                    self.line.extend_from_slice(b", \"notify_type\": 1010, ");
                    insert_bytes(line, 1, &self.line);
                }
                return;
            }
            MsgLine::Resend => st.retries += 1,
            MsgLine::Fresh | MsgLine::MissingId => {}
        }
        st.envelope_messages += 1;
        self.head(NT_MESSAGE);
        self.line.extend_from_slice(line);
        self.line.push(b'}');
        std::mem::swap(line, &mut self.line);
    }

    /// Starts `self.line` as an envelope of `notify_type`, up to its `data`.
    fn head(&mut self, notify_type: u64) {
        self.line.clear();
        self.line.extend_from_slice(b"{\"guid\": ");
        push_guid(&mut self.line, &mut self.rng);
        self.line.extend_from_slice(b", \"notify_type\": ");
        push_u64(&mut self.line, notify_type);
        self.line.extend_from_slice(b", \"data\": ");
    }

    /// `self.line` = a new envelope of `notify_type` around `self.data`.
    fn seal(&mut self, notify_type: u64) {
        self.head(notify_type);
        self.line.extend_from_slice(&self.data);
        self.line.push(b'}');
    }

    /// Puts the oldest queued contact retry into `self.line`; `false` if none.
    fn next_retry(&mut self, st: &mut EnvStats) -> bool {
        if self.retries.is_empty() {
            return false;
        }
        self.data = self.retries.remove(0);
        self.seal(NT_CONTACT);
        st.contact_updates += 1;
        st.retries += 1;
        true
    }

    /// Puts one planned contact or event line into `self.line`.
    fn emit(&mut self, w: &World, extra: Extra, st: &mut EnvStats) {
        match extra {
            Extra::Update(Some(idx)) => self.contact_update(idx, st),
            Extra::Update(None) => {
                let renamed = if self.rng.chance(0.25) {
                    self.rename()
                } else {
                    None
                };
                let idx = renamed.unwrap_or_else(|| self.choose(w));
                self.contact_update(idx, st);
            }
            Extra::UpdatePerson => {
                let idx = self.ordinary_person(w);
                self.contact_update(idx, st);
            }
            Extra::Delete => {
                let live: Vec<usize> = self
                    .announced
                    .iter()
                    .copied()
                    .filter(|&i| self.contacts[i].deletable())
                    .collect();
                if live.is_empty() {
                    // Each day's first update announces a deletable person, so
                    // this does not happen; keep the line anyway.
                    let idx = self.ordinary_person(w);
                    self.contact_update(idx, st);
                    return;
                }
                let idx = live[self.rng.index(live.len())];
                self.contacts[idx].deleted = true;
                self.data.clear();
                self.data.extend_from_slice(b"{\"userName\": ");
                push_wrapped(&mut self.data, &self.contacts[idx].user);
                self.data.extend_from_slice(b", \"deleteContactScene\": 0}");
                self.seal(NT_DELETE);
                st.contact_deletes += 1;
            }
            Extra::Detail => {
                let live: Vec<usize> = self
                    .announced
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let c = &self.contacts[i];
                        c.kind == Kind::Person && !c.deleted
                    })
                    .collect();
                let idx = if live.is_empty() {
                    1
                } else {
                    live[self.rng.index(live.len())]
                };
                self.data.clear();
                write_detail(&mut self.data, &self.contacts[idx], &mut self.rng);
                self.seal(NT_DETAIL);
                st.contact_details += 1;
            }
            Extra::Event => {
                self.data.clear();
                if self.rng.chance(0.25) {
                    self.data.extend_from_slice(b"{\"wxid\": ");
                    push_json_str(&mut self.data, &w.owner);
                    self.data.extend_from_slice(b", \"online\": true}");
                } else {
                    let body = EVENT_BODIES[self.rng.index(EVENT_BODIES.len())];
                    self.data.extend_from_slice(body);
                }
                self.seal(NT_UNKNOWN);
                st.events += 1;
            }
        }
    }

    /// A contact to (re)announce: persons mostly (popular ones more often), then
    /// rooms, official accounts and, rarely, the owner.
    fn choose(&mut self, w: &World) -> usize {
        let r = &mut self.rng;
        let (users, rooms) = (w.users.len(), w.rooms.len());
        match r.below(100) {
            0..=69 => 1 + w.user_zipf.sample(r),
            70..=89 => 1 + users + w.room_zipf.sample(r),
            90..=97 => 1 + users + rooms + r.index(w.official.len()),
            _ => 0,
        }
    }

    /// A person other than the "张伟" pair.
    fn ordinary_person(&mut self, w: &World) -> usize {
        loop {
            let u = w.user_zipf.sample(&mut self.rng);
            if u != 0 && u != ZHANG_WEI_TWIN {
                return 1 + u;
            }
        }
    }

    /// Gives a live announced contact a new nickname or remark; `None` if there
    /// is none yet.
    fn rename(&mut self) -> Option<usize> {
        let live: Vec<usize> = self
            .announced
            .iter()
            .copied()
            .filter(|&i| !self.contacts[i].deleted)
            .collect();
        if live.is_empty() {
            return None;
        }
        let idx = live[self.rng.index(live.len())];
        let c = &self.contacts[idx];
        // Nobody gives their own account or a group a remark; the "张伟" pair keep
        // their nickname, so only their remark changes.
        let nick =
            !c.fixed_nick && (matches!(c.kind, Kind::Owner | Kind::Room) || self.rng.chance(0.5));
        if nick {
            self.new_nick(idx);
        } else {
            self.new_remark(idx);
        }
        Some(idx)
    }

    fn new_nick(&mut self, idx: usize) {
        let (kind, base) = (self.contacts[idx].kind, self.contacts[idx].base.clone());
        let r = &mut self.rng;
        let nick = unique_name(&self.names, || match kind {
            Kind::Room => match r.below(3) {
                0 => format!("{}群{}", r.pick(GROUP_TOPICS), r.range(1, 9)),
                1 => format!("{base}（新）"),
                _ => format!("{base}·2026"),
            },
            _ if r.chance(0.5) => format!("{base}{}", r.pick(NICK_DECOR)),
            _ => person_name(r),
        });
        let c = &mut self.contacts[idx];
        self.names.remove(&c.nick);
        self.names.insert(nick.clone());
        c.nick = nick;
    }

    fn new_remark(&mut self, idx: usize) {
        let r = &mut self.rng;
        let c = &mut self.contacts[idx];
        loop {
            let remark = if c.remark.is_some() && r.chance(0.2) {
                None
            } else {
                Some(remark_text(r, &c.base))
            };
            if remark != c.remark {
                c.remark = remark;
                return;
            }
        }
    }

    /// A 1200 line with the current state of contact `idx`, maybe queued for a retry.
    fn contact_update(&mut self, idx: usize, st: &mut EnvStats) {
        let c = &mut self.contacts[idx];
        if !c.announced {
            c.announced = true;
            self.announced.push(idx);
        }
        c.deleted = false;
        if c.kind == Kind::Room {
            c.version += 1;
        }
        self.data.clear();
        write_contact(&mut self.data, &self.contacts[idx], &mut self.rng);
        self.seal(NT_CONTACT);
        st.contact_updates += 1;
        if self.defects && self.rng.chance(1.0 / 20.0) {
            self.retries.push(self.data.clone());
        }
    }
}

/// The first name `candidate` gives that is not in use; after 16 tries it
/// numbers the last candidate, so that this always ends.
fn unique_name(names: &HashSet<String>, mut candidate: impl FnMut() -> String) -> String {
    let mut last = String::new();
    for _ in 0..16 {
        last = candidate();
        if !names.contains(&last) {
            return last;
        }
    }
    (2..)
        .map(|k| format!("{last}{k}"))
        .find(|s| !names.contains(s))
        .expect("some numbered name is free")
}

// ---------------------------------------------------------------- main

fn run(cfg: &Config) -> io::Result<Stats> {
    let raw_dir = cfg.out.join("messages").join("raw");
    fs::create_dir_all(&raw_dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", raw_dir.display())))?;
    let world = World::new(cfg.seed);
    let mut generator = Gen::new(&world, cfg);
    generator.run(&raw_dir)?;
    Ok(generator.stats)
}

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(bad) => {
                eprintln!("generate: argument {bad:?} is not valid UTF-8");
                return ExitCode::from(EX_USAGE);
            }
        }
    }
    let cfg = match parse_args(&args) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("generate: {msg}");
            eprintln!("Try 'generate --help' for usage.");
            return ExitCode::from(EX_USAGE);
        }
    };
    let started = Instant::now();
    let st = match run(&cfg) {
        Ok(st) => st,
        Err(e) => {
            eprintln!("generate: {e}");
            return ExitCode::from(EX_IOERR);
        }
    };
    let env = if cfg.envelope {
        let e = &st.env;
        format!(
            " envelope_messages={} flat_messages={} retries={} contact_updates={} contact_deletes={} contact_details={} events={}",
            e.envelope_messages,
            e.flat_messages,
            e.retries,
            e.contact_updates,
            e.contact_deletes,
            e.contact_details,
            e.events,
        )
    } else {
        String::new()
    };
    let bad: Vec<String> = BAD_NAMES
        .iter()
        .zip(st.bad)
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    eprintln!(
        "generate: {} files, {} lines, {} bytes in {:.2}s -> {} (records={} dups={} conflicting_dups={} {} blank={} crlf={} late={} big_ids={} str_ids={} ms_times={} str_times={} at_00:00:00={} at_23:59:59={} max_line={}{env})",
        st.files,
        st.lines,
        st.bytes,
        started.elapsed().as_secs_f64(),
        cfg.out.display(),
        st.records,
        st.dups,
        st.conflicts,
        bad.join(" "),
        st.blank,
        st.crlf,
        st.late,
        st.big_ids,
        st.str_ids,
        st.ms_times,
        st.str_times,
        st.at_midnight,
        st.at_last_second,
        st.max_line,
    );
    ExitCode::SUCCESS
}
