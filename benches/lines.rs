//! Deterministic message lines for the benches: short texts (≈570 B, like `generate --profile
//! short`) and app messages with a large XML payload (≈14 KB).

/// `n` lines of the given kind, each ending in `\n`.
pub fn lines(n: usize, big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let room = state % 40;
        let sender = (state >> 8) % 300;
        let t = 1_767_225_600 + i as u64;
        let content = if big {
            let mut xml = String::from(
                "<msg><appmsg appid=\\\"\\\" sdkver=\\\"0\\\"><title>周报 weekly report</title><des>",
            );
            for k in 0..(200 + state % 400) {
                xml.push_str(&format!(
                    "段落{k} paragraph with some text &amp; links https://example.com/{k} "
                ));
            }
            xml.push_str("</des><type>5</type></appmsg></msg>");
            xml
        } else {
            format!(
                "收到，明天上午十点开会 😀 message number {i} with a \\\"quote\\\" and a newline\\n ok"
            )
        };
        let line = format!(
            r#"{{"msg_id": {id}, "create_time": {t}, "msg_type": {ty}, "from_username": "{room}@chatroom", "to_username": "wxid_owner000000", "chatroom": "{room}@chatroom", "chatroom_sender": "wxid_{sender:014}", "content": "{content}", "source": "<msgsource>\n\t<signature>v1_{sender}</signature>\n\t<tmp_node><publisher-id></publisher-id></tmp_node>\n</msgsource>", "status": 3}}"#,
            id = 6_000_000_000_000_000_000u64 + state % 1_000_000_000_000_000_000,
            ty = if big { 49 } else { 1 },
        );
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}
