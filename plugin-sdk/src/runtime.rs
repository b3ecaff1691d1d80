//! The part of a step run that is the same on wasm and under `MockHost`: config JSON in,
//! `Plugin::run`, manifest JSON out. Keeping it in one place is what makes a MockHost test
//! exercise the same decoding and encoding the real host sees.

use serde::de::DeserializeOwned;

use crate::context::{HostImpl, StepData};
use crate::{Context, Error, Plugin};

/// Runs `P` on one step: decodes its config, calls `run`, encodes the output manifest.
pub(crate) fn execute<P: Plugin>(
    data: StepData,
    host: HostImpl,
) -> Result<(P::Output, String), Error> {
    let config = parse_config::<P::Config>(&data.config)?;
    let mut ctx = Context::new(data, host);
    let output = P::run(&mut ctx, config)?;
    let manifest = serde_json::to_string(&output).map_err(|e| {
        Error::new(format!("the step's output could not be encoded as a JSON manifest: {e}"))
            .with_help("use string keys in maps (e.g. `BTreeMap<String, _>`) and finite numbers in the plugin's `Output`")
    })?;
    Ok((output, manifest))
}

/// Decodes the step's config, naming the offending field on failure.
///
/// serde_json only reports a line and column, so the config is re-printed one value per
/// line first: the reported line then identifies the field, and [`path_at_line`] rebuilds
/// its path (`ports[1].name`) without a path-tracking deserializer dependency.
pub(crate) fn parse_config<C: DeserializeOwned>(json: &str) -> Result<C, Error> {
    let help = "fix the step's `config` block in project.kdl; `forge plugin inspect` shows the plugin's config schema";
    let text = if json.trim().is_empty() { "{}" } else { json };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(format!("the step's config is not valid JSON: {e}")).with_help(help)
    })?;
    let pretty = serde_json::to_string_pretty(&value)?;
    serde_json::from_str(&pretty).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        let path = path_at_line(&pretty, e.line());
        let error = if path.is_empty() {
            Error::new(format!("invalid config: {message}"))
        } else {
            Error::new(format!("invalid config at `{path}`: {message}"))
        };
        error.with_help(help)
    })
}

struct Frame {
    segment: Option<String>,
    array: bool,
    next_index: usize,
}

/// The path (`a.b[2].c`) of the value on 1-based `line` of `serde_json::to_string_pretty`
/// output. A closing bracket's line maps to the container it closes.
pub(crate) fn path_at_line(pretty: &str, line: usize) -> String {
    let target = line.saturating_sub(1);
    let mut stack: Vec<Frame> = Vec::new();
    for (i, raw) in pretty.lines().enumerate() {
        let t = raw.trim();
        if matches!(t, "}" | "}," | "]" | "],") {
            if i == target {
                return render(&stack, None);
            }
            stack.pop();
            continue;
        }
        let segment = match stack.last_mut() {
            None => None,
            Some(frame) if frame.array => {
                frame.next_index += 1;
                Some(format!("[{}]", frame.next_index - 1))
            }
            Some(_) => serde_json::Deserializer::from_str(t)
                .into_iter::<String>()
                .next()
                .and_then(Result::ok),
        };
        if i == target {
            return render(&stack, segment);
        }
        if t.ends_with('{') || t.ends_with('[') {
            stack.push(Frame {
                segment,
                array: t.ends_with('['),
                next_index: 0,
            });
        }
    }
    render(&stack, None)
}

fn render(stack: &[Frame], last: Option<String>) -> String {
    let mut out = String::new();
    for segment in stack
        .iter()
        .filter_map(|f| f.segment.as_deref())
        .chain(last.as_deref())
    {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Port {
        name: String,
        number: u16,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        image: String,
        #[serde(default)]
        ports: Vec<Port>,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        replicas: u32,
    }

    fn err(json: &str) -> String {
        parse_config::<Config>(json)
            .expect_err("config should be rejected")
            .message()
            .to_owned()
    }

    #[test]
    fn wrong_type_names_the_nested_field_and_keeps_serde_message() {
        let m =
            err(r#"{"image":"x","ports":[{"name":"a","number":1},{"name":"b","number":"80"}]}"#);
        assert_eq!(
            m,
            "invalid config at `ports[1].number`: invalid type: string \"80\", expected u16"
        );
        let m = err(r#"{"image":"x","nested":{"replicas":-1}}"#);
        assert_eq!(
            m,
            "invalid config at `nested.replicas`: invalid value: integer `-1`, expected u32"
        );
    }

    #[test]
    fn missing_and_unknown_fields_are_named_by_serde() {
        assert_eq!(err("{}"), "invalid config: missing field `image`");
        let m = err(r#"{"image":"x","imgae":"y"}"#);
        assert!(
            m.starts_with("invalid config at `imgae`: unknown field `imgae`"),
            "{m}"
        );
    }

    #[test]
    fn empty_config_text_means_an_empty_object() {
        assert_eq!(err(""), "invalid config: missing field `image`");
        assert!(parse_config::<crate::NoConfig>("").is_ok());
        assert!(parse_config::<crate::NoConfig>("null").is_ok());
    }

    #[test]
    fn keys_with_quotes_and_brackets_are_decoded() {
        let pretty = "{\n  \"a\\\"{\": {\n    \"b\": [\n      1,\n      2\n    ]\n  }\n}";
        assert_eq!(path_at_line(pretty, 5), "a\"{.b[1]");
        assert_eq!(path_at_line(pretty, 7), "a\"{");
    }
}
