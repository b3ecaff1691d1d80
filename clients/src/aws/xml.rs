//! Just enough XML for the answers forge reads from AWS's XML protocols (S3 errors,
//! ELBv2's query protocol): the text of a tag, and the blocks of a repeated element.
//! Answers are flat and known; no general parser is needed.

/// The text of the first `<tag>…</tag>` in `xml`, unescaped; `None` without one.
pub(crate) fn text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find('<')?;
    Some(unescape(xml[start..start + len].trim()))
}

/// The contents of each `<tag>…</tag>` in `xml`, in order (not nested in each other).
pub(crate) fn blocks<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_blocks() {
        let xml = "<R><member><Id>a</Id></member><member><Id>b &amp; c</Id></member></R>";
        let ids: Vec<Option<String>> = blocks(xml, "member")
            .iter()
            .map(|m| text(m, "Id"))
            .collect();
        assert_eq!(ids, [Some("a".into()), Some("b & c".into())]);
        assert_eq!(text(xml, "Nope"), None);
    }
}
