//! Escaping and time formatting shared by the HTML pages and the XML documents.

/// Escapes text for XML and HTML element content and quoted attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0; drop them.
            c if c.is_control() && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` at `offset` (the format of the status pages and
/// of `status.xml`'s `rct`); empty for 0 or an impossible time.
pub fn format_unix(unix: i64, offset: time::UtcOffset) -> String {
    if unix <= 0 {
        return String::new();
    }
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    let t = t.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_controls() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{7}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn formats_local_time() {
        let cst = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        assert_eq!(format_unix(1_584_465_336, cst), "2020-03-18 01:15:36");
        assert_eq!(format_unix(0, cst), "");
        assert_eq!(format_unix(i64::MAX, cst), "");
    }
}
