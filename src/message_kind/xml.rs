//! Reading the few facts a card needs out of its XML, tolerantly: quick-xml's pull parser, no
//! DOM; entities, CDATA and odd whitespace are fine, and a card broken halfway still gives what
//! came before the break.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Whether `xml` is well-formed enough to read to its end.
pub(super) fn parses(xml: &str) -> bool {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut seen = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                seen = true;
            }
            Ok(Event::Empty(_)) => seen = true,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) => return seen && depth == 0,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// For each (element, attribute) wanted, the first value found: the element's text (entities
/// and CDATA resolved; an empty element counts only when no later one of that name has text, as
/// in a quote's `<appmsg><content/>…<refermsg><content>quoted</content>`), or the attribute's
/// value. Tolerant: reads as far as the XML allows.
pub(super) fn read_facts(xml: &str, wanted: &[(&str, Option<&str>)]) -> Vec<Option<String>> {
    read_facts_checked(xml, wanted).0
}

/// [`read_facts`], and whether the XML was well-formed enough to read to its end (what
/// [`parses`] says), found in the same pass.
pub(super) fn read_facts_checked(
    xml: &str,
    wanted: &[(&str, Option<&str>)],
) -> (Vec<Option<String>>, bool) {
    let mut out: Vec<Option<String>> = vec![None; wanted.len()];
    let mut reader = Reader::from_str(xml);
    // The wanted text elements open now (index into `wanted`), and the text gathered for them.
    let mut open: Vec<(usize, String)> = Vec::new();
    // Wanted text elements met empty so far.
    let mut empty = vec![false; wanted.len()];
    let (mut depth, mut seen) = (0usize, false);
    let well_formed = loop {
        let Ok(event) = reader.read_event() else {
            break false;
        };
        let is_start = matches!(event, Event::Start(_));
        match &event {
            Event::Start(_) => {
                depth += 1;
                seen = true;
            }
            Event::Empty(_) => seen = true,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                for (i, (el, attr)) in wanted.iter().enumerate() {
                    if out[i].is_some() || name.as_ref() != *el {
                        continue;
                    }
                    match attr {
                        Some(a) => {
                            if let Some(v) = e
                                .attributes()
                                .flatten()
                                .find(|x| x.key.local_name().as_ref() == *a)
                                .and_then(|x| {
                                    x.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()
                                })
                            {
                                out[i] = Some(v.trim().to_string());
                            }
                        }
                        None => {
                            if is_start {
                                open.push((i, String::new()));
                            } else {
                                empty[i] = true;
                            }
                        }
                    }
                }
            }
            // Text is decoded only inside a wanted element.
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if open.is_empty() => {}
            Event::Text(t) => {
                let text = t.xml10_content();
                for (_, buf) in &mut open {
                    buf.push_str(&text);
                }
            }
            Event::CData(c) => {
                let text: Cow<'_, str> = c.xml10_content();
                for (_, buf) in &mut open {
                    buf.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(String::from),
                };
                if let Some(s) = resolved {
                    for (_, buf) in &mut open {
                        buf.push_str(&s);
                    }
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                if let Some(pos) = open
                    .iter()
                    .rposition(|(i, _)| wanted[*i].0 == name.as_ref())
                {
                    let (i, text) = open.remove(pos);
                    let text = text.trim();
                    if text.is_empty() {
                        empty[i] = true;
                    } else {
                        out[i].get_or_insert_with(|| text.to_string());
                    }
                }
            }
            Event::Eof => break seen && depth == 0,
            _ => {}
        }
    };
    for (value, was_empty) in out.iter_mut().zip(empty) {
        if value.is_none() && was_empty {
            *value = Some(String::new());
        }
    }
    (out, well_formed)
}
