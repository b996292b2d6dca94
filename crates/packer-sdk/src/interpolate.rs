//! The subset of Packer's template engine builders apply to their own configuration.
//!
//! For JSON templates Packer 1.6.6 hands `Builder.Prepare` the raw strings (for example
//! `"tpl-{{user `a`}}-{{timestamp}}"`, verified against the real binary) and each plugin
//! renders them, as the Go SDK's `config.Decode` does. This module implements the Go
//! text/template functions Packer documents for builder configs: `user`, `timestamp`,
//! `uuid`, `isotime [layout]`, `build_name`, `build_type`, `template_dir`, `pwd`,
//! `packer_version`, `lower`, `upper`, `clean_resource_name`, `replace`, `replace_all`,
//! `split`, plus pipelines (`{{ isotime | clean_resource_name }}`) and backquoted or
//! double-quoted string arguments. `{{ .Name }}` fields are left for later rendering by the
//! builder (e.g. `{{.HTTPIP}}` in boot commands). `env` is refused like Packer does outside
//! the `variables` section. Hand-written because no crate implements Go templates with
//! Packer's function set.

use std::collections::BTreeMap;

/// What functions can see: Packer's build settings and user variables.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_builder_type`.
    pub build_type: String,
    /// Directory of `packer_template_path`.
    pub template_dir: String,
    /// `packer_core_version`.
    pub packer_version: String,
    /// `packer_user_variables`.
    pub user_variables: BTreeMap<String, String>,
    /// Unix seconds used by `timestamp` and `isotime` (fixed for one build, like Packer's
    /// `InitTime`).
    pub now_unix: i64,
    /// UUID for `uuid` (one per build, so repeated renders agree).
    pub uuid: String,
}

impl Context {
    /// Builds a context from the Packer settings map Packer passes as a later `Configs` entry.
    pub fn from_packer_config(packer: &serde_json::Value) -> Self {
        let s = |k: &str| {
            packer
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let template_path = s("packer_template_path");
        let template_dir = std::path::Path::new(&template_path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let user_variables = packer
            .get("packer_user_variables")
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Context {
            build_name: s("packer_build_name"),
            build_type: s("packer_builder_type"),
            template_dir,
            packer_version: s("packer_core_version"),
            user_variables,
            now_unix,
            uuid: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// A template that could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {0}")]
pub struct RenderError(pub String);

/// Renders every `{{ ... }}` action in `input`.
pub fn render(input: &str, ctx: &Context) -> Result<String, RenderError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| RenderError(format!("unclosed action in {input:?}")))?;
        let action = after[..end].trim_matches('-').trim();
        if action.starts_with('.') {
            // A field for a later render (e.g. {{.HTTPIP}}): keep it verbatim.
            out.push_str(&rest[start..start + 2 + end + 2]);
        } else {
            out.push_str(&eval_pipeline(action, ctx)?);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn tokenize(cmd: &str) -> Result<Vec<String>, RenderError> {
    let mut toks = Vec::new();
    let mut chars = cmd.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '`' => {
                chars.next();
                let s: String = chars.by_ref().take_while(|&c| c != '`').collect();
                toks.push(s);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(o) => s.push(o),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        o => s.push(o),
                    }
                }
                if !closed {
                    return Err(RenderError(format!("unterminated string in {cmd:?}")));
                }
                toks.push(s);
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                toks.push(s);
            }
        }
    }
    Ok(toks)
}

fn eval_pipeline(action: &str, ctx: &Context) -> Result<String, RenderError> {
    let mut piped: Option<String> = None;
    for cmd in action.split('|') {
        let mut toks = tokenize(cmd)?;
        if toks.is_empty() {
            return Err(RenderError(format!("empty command in {{{{{action}}}}}")));
        }
        let name = toks.remove(0);
        if let Some(p) = piped.take() {
            toks.push(p);
        }
        piped = Some(call(&name, &toks, ctx)?);
    }
    piped.ok_or_else(|| RenderError("empty action".into()))
}

fn arg<'a>(name: &str, args: &'a [String], i: usize) -> Result<&'a str, RenderError> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| RenderError(format!("function {name:?} needs more arguments")))
}

fn call(name: &str, args: &[String], ctx: &Context) -> Result<String, RenderError> {
    Ok(match name {
        "user" => {
            let key = arg(name, args, 0)?;
            ctx.user_variables.get(key).cloned().unwrap_or_default()
        }
        "timestamp" => ctx.now_unix.to_string(),
        "uuid" => ctx.uuid.clone(),
        "isotime" => {
            let layout = args.first().map(String::as_str).unwrap_or(RFC3339);
            format_go_time(ctx.now_unix, layout)
        }
        "build_name" => ctx.build_name.clone(),
        "build_type" => ctx.build_type.clone(),
        "template_dir" => ctx.template_dir.clone(),
        "packer_version" => ctx.packer_version.clone(),
        "pwd" => std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        "lower" => arg(name, args, 0)?.to_lowercase(),
        "upper" => arg(name, args, 0)?.to_uppercase(),
        "clean_resource_name" => arg(name, args, 0)?
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect(),
        "replace_all" => {
            let (old, new, s) = (
                arg(name, args, 0)?,
                arg(name, args, 1)?,
                arg(name, args, 2)?,
            );
            s.replace(old, new)
        }
        "replace" => {
            let (old, new) = (arg(name, args, 0)?, arg(name, args, 1)?);
            let n: i64 = arg(name, args, 2)?
                .parse()
                .map_err(|_| RenderError("replace: count must be a number".into()))?;
            let s = arg(name, args, 3)?;
            if n < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, n as usize)
            }
        }
        "split" => {
            let (s, sep) = (arg(name, args, 0)?, arg(name, args, 1)?);
            let i: usize = arg(name, args, 2)?
                .parse()
                .map_err(|_| RenderError("split: index must be a number".into()))?;
            s.split(sep).nth(i).unwrap_or_default().to_owned()
        }
        "env" => {
            return Err(RenderError(
                "env vars are not allowed here; use them in the template's variables".into(),
            ))
        }
        other => return Err(RenderError(format!("function {other:?} not defined"))),
    })
}

const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// Formats a UTC instant with a Go reference-time layout (`2006-01-02T15:04:05Z07:00`).
pub fn format_go_time(unix: i64, layout: &str) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, mo, d) = civil(days);
    let (h, mi, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let month = MONTHS[(mo - 1) as usize];
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    // Longest tokens first so "2006" wins over "2" and "January" over "Jan".
    let tokens: [(&str, String); 24] = [
        ("January", month.to_owned()),
        ("Monday", weekday.to_owned()),
        ("Z07:00", "Z".into()),
        ("-07:00", "+00:00".into()),
        ("Z0700", "Z".into()),
        ("-0700", "+0000".into()),
        ("2006", format!("{y:04}")),
        ("Jan", month[..3].to_owned()),
        ("Mon", weekday[..3].to_owned()),
        ("MST", "UTC".into()),
        ("_2", format!("{d:>2}")),
        ("01", format!("{mo:02}")),
        ("02", format!("{d:02}")),
        ("03", format!("{h12:02}")),
        ("04", format!("{mi:02}")),
        ("05", format!("{s:02}")),
        ("06", format!("{:02}", y.rem_euclid(100))),
        ("15", format!("{h:02}")),
        ("PM", if h >= 12 { "PM" } else { "AM" }.into()),
        ("pm", if h >= 12 { "pm" } else { "am" }.into()),
        ("1", mo.to_string()),
        ("2", d.to_string()),
        ("3", h12.to_string()),
        ("4", mi.to_string()),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (tok, val) in &tokens {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push_str(val);
                rest = r;
                continue 'outer;
            }
        }
        if let Some(r) = rest.strip_prefix('5') {
            out.push_str(&s.to_string());
            rest = r;
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            build_name: "cs1".into(),
            build_type: "cloudstack".into(),
            template_dir: "/t".into(),
            packer_version: "1.6.6".into(),
            user_variables: [("a".to_string(), "AVAL".to_string())].into(),
            // 2021-03-04T05:06:07Z, a Thursday
            now_unix: 1_614_834_367,
            uuid: "u-u-i-d".into(),
        }
    }

    #[test]
    fn renders_the_template_packer_166_sent() {
        assert_eq!(
            render("tpl-{{user `a`}}-{{timestamp}}", &ctx()).unwrap(),
            "tpl-AVAL-1614834367"
        );
        assert_eq!(
            render(
                "{{build_name}}/{{ build_type }}/{{template_dir}}/{{uuid}}",
                &ctx()
            )
            .unwrap(),
            "cs1/cloudstack//t/u-u-i-d"
        );
    }

    #[test]
    fn fields_are_kept_and_plain_text_untouched() {
        assert_eq!(
            render("{{.HTTPIP}}:{{ .HTTPPort }}", &ctx()).unwrap(),
            "{{.HTTPIP}}:{{ .HTTPPort }}"
        );
        assert_eq!(
            render("no actions } { here", &ctx()).unwrap(),
            "no actions } { here"
        );
    }

    #[test]
    fn isotime_layouts_and_pipelines() {
        assert_eq!(
            render("{{isotime}}", &ctx()).unwrap(),
            "2021-03-04T05:06:07Z"
        );
        assert_eq!(
            render("{{isotime \"2006-01-02 15h04 Mon Jan _2 3PM\"}}", &ctx()).unwrap(),
            "2021-03-04 05h06 Thu Mar  4 5AM"
        );
        assert_eq!(
            render("{{ isotime | clean_resource_name }}", &ctx()).unwrap(),
            "2021-03-04t05-06-07z"
        );
        assert_eq!(render("{{ user `a` | lower }}", &ctx()).unwrap(), "aval");
        assert_eq!(render("{{split `a-b-c` `-` 1}}", &ctx()).unwrap(), "b");
        assert_eq!(
            render("{{replace_all `-` `_` `a-b-c`}}", &ctx()).unwrap(),
            "a_b_c"
        );
        assert_eq!(
            render("{{replace `-` `_` 1 `a-b-c`}}", &ctx()).unwrap(),
            "a_b-c"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(render("{{env `HOME`}}", &ctx())
            .unwrap_err()
            .0
            .contains("env vars"));
        assert!(render("{{nope}}", &ctx())
            .unwrap_err()
            .0
            .contains("\"nope\" not defined"));
        assert!(render("{{user", &ctx()).unwrap_err().0.contains("unclosed"));
        assert!(render("{{user}}", &ctx()).is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(18_687), (2021, 3, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(
            format_go_time(951_782_400, "2006-01-02 Monday"),
            "2000-02-29 Tuesday"
        );
    }

    #[test]
    fn context_from_packer_settings() {
        let c = Context::from_packer_config(&serde_json::json!({
            "packer_build_name": "cs1", "packer_builder_type": "cloudstack",
            "packer_core_version": "1.6.6", "packer_template_path": "/a/b/t.json",
            "packer_user_variables": {"a": "AVAL", "n": 3}
        }));
        assert_eq!(c.template_dir, "/a/b");
        assert_eq!(c.user_variables["a"], "AVAL");
        assert_eq!(c.user_variables["n"], "3");
        assert!(c.now_unix > 1_600_000_000);
    }
}
