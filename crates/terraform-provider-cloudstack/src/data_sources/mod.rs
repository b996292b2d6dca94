//! The data source types (`data "cloudstack_..."`), one file each, and the
//! regex `filter { name, value }` blocks they share with the Go provider.

use std::sync::Arc;

use cloudstack::Params;
use regex::Regex;
use serde::{Deserialize, Serialize};
use tfplugin5::{
    model::{self, Field},
    Attribute, Block, DataSource, Diagnostics, NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::bounded,
    kit::{CheckedDataSource, Typed},
    provider::{Client, Handle},
};

mod instance;
mod ipaddress;
mod network_offering;
mod project;
mod service_offering;
mod ssh_keypair;
mod template;
mod user_data;
mod volume;
mod vpc;
mod zone;

/// Every data source type this provider serves.
pub fn data_sources(handle: &Handle) -> Vec<Arc<dyn DataSource<Client>>> {
    checked(handle)
        .into_iter()
        .map(CheckedDataSource::into_data_source)
        .collect()
}

/// The same, with the checks of their models and views.
pub fn checked(_handle: &Handle) -> Vec<Arc<dyn CheckedDataSource>> {
    vec![
        Arc::new(Typed(zone::Zone)),
        Arc::new(Typed(template::Template)),
        Arc::new(Typed(service_offering::ServiceOffering)),
        Arc::new(Typed(user_data::UserData)),
        Arc::new(Typed(volume::Volume)),
        Arc::new(Typed(project::Project)),
        Arc::new(Typed(ssh_keypair::SshKeypair)),
        Arc::new(Typed(instance::InstanceData)),
        Arc::new(Typed(ipaddress::IpAddressData)),
        Arc::new(Typed(network_offering::NetworkOfferingData)),
        Arc::new(Typed(vpc::VpcData)),
    ]
}

/// The Go provider's `filter` block: a required set of `{ name, value }`
/// where `value` is a regular expression searched in the object's JSON
/// field `name` (underscores removed, so `display_text` is `displaytext`).
pub fn filter_block() -> NestedBlock {
    NestedBlock::set(
        "filter",
        Block::new()
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::required("value", Type::String)),
    )
    .min_items(1)
}

/// A data source schema: the attributes of `block` plus the `filter` block.
pub fn filtered_schema(block: Block) -> Schema {
    Schema::new(block.block(filter_block()))
}

/// Every object `command` lists under `key` (all pages): what a data source
/// filters. `None` after pushing a "listing <what>" diagnostic (on `attr`
/// when the error is about it).
pub async fn list_all(
    c: &Client,
    command: &str,
    key: &str,
    params: &Params,
    what: &str,
    attr: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Vec<serde_json::Value>> {
    match bounded(c, c.timeout, c.api.list_all_values(command, key, params)).await {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(e.diagnostic(&format!("listing {what}"), attr, "read"));
            None
        }
    }
}

/// The newest object (by `created`, like the Go provider; the last of
/// equals) passing `filters`.
pub fn newest<'a>(
    all: &'a [serde_json::Value],
    filters: &Filters,
) -> Option<&'a serde_json::Value> {
    all.iter()
        .filter(|o| filters.matches(o))
        .max_by_key(|o| created_key(o.get("created").and_then(|v| v.as_str())))
}

/// The newest object passing `filters` ([`newest`]); none is an error on
/// `filter` ("No <what> is matching ...", the Go provider's words) listing
/// the names there are.
pub fn pick<'a>(
    all: &'a [serde_json::Value],
    filters: &Filters,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<&'a serde_json::Value> {
    let best = newest(all, filters);
    if best.is_none() {
        let names: Vec<&str> = all
            .iter()
            .filter_map(|o| o.get("name").and_then(|v| v.as_str()))
            .collect();
        diags.attribute_error(
            attr!(FilteredView, filter),
            format!("No {what} is matching with the specified regex"),
            format!(
                "filters: {}; there are: {}",
                filters.describe(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        );
    }
    best
}

/// A string field of a CloudStack object.
pub fn str_field(o: &serde_json::Value, key: &str) -> Option<String> {
    o.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

/// One `filter` block in a typed model ([`crate::kit::TypedDataSource`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FilterModel {
    name: String,
    value: String,
}

/// The list parameters of a data source with an optional `project`:
/// everything the caller may see, inside that project when set; `None`
/// after an error naming `project`.
pub async fn project_scope(
    cx: crate::kit::Ctx<'_>,
    project: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Params> {
    let mut p = Params::new().with("listall", "true");
    p.set_opt("projectid", cx.project_id(project, diags).await.ok()?);
    Some(p)
}

/// What the typed data sources share: the newest object `command` lists
/// under `key` that passes the configuration's filters ([`pick`]), decoded.
pub async fn pick_newest<T: serde::de::DeserializeOwned>(
    cx: crate::kit::Ctx<'_>,
    (command, key): (&str, &str),
    params: &Params,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<T> {
    let filters = Filters::parse(cx.raw, diags)?;
    let all = list_all(cx.c, command, key, params, what, None, diags).await?;
    let best = pick(&all, &filters, what, diags)?;
    match serde_json::from_value(best.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.error(
                format!("Cannot read the {what} CloudStack listed"),
                e.to_string(),
            );
            None
        }
    }
}

/// One `filter { name, value }` block as a plan-time view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterView {
    name: Field<String>,
    value: Field<String>,
}

/// What a filtered data source's checks read (see [`crate::kit`]): its
/// `filter` blocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilteredView {
    filter: Field<Vec<Field<FilterView>>>,
}

/// Compiled filters of a data source configuration.
#[derive(Debug)]
pub struct Filters(Vec<(String, String, Regex)>);

impl Filters {
    /// Compiles the `filter` blocks of a configuration.
    pub fn parse(config: &Value, diags: &mut Diagnostics) -> Option<Filters> {
        match model::from_value::<FilteredView>(config) {
            Ok(view) => Filters::of(&view, diags),
            Err(e) => {
                diags.error(
                    "Cannot read the filters",
                    format!("{e}. This is a provider bug; please report it."),
                );
                None
            }
        }
    }

    /// Compiles the known `filter` blocks; a bad regex is an error on
    /// `filter`.
    pub fn of(config: &FilteredView, diags: &mut Diagnostics) -> Option<Filters> {
        let mut out = Vec::new();
        for f in config
            .filter
            .known()
            .into_iter()
            .flatten()
            .filter_map(Field::known)
        {
            let (Some(name), Some(value)) = (f.name.known(), f.value.known()) else {
                continue;
            };
            match Regex::new(value) {
                Ok(r) => out.push((name.to_string(), name.replace('_', ""), r)),
                Err(e) => {
                    diags.attribute_error(
                        attr!(FilteredView, filter),
                        format!("Invalid regular expression for filter {name:?}"),
                        format!("{value:?}: {e}"),
                    );
                    return None;
                }
            }
        }
        Some(Filters(out))
    }

    /// Whether `obj` (CloudStack JSON) passes every filter. A field the
    /// object lacks, or that is not a string/number/bool, does not match
    /// (the Go provider panicked there).
    pub fn matches(&self, obj: &serde_json::Value) -> bool {
        self.0.iter().all(|(_, field, re)| {
            let text = match obj.get(field) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::Bool(b)) => b.to_string(),
                _ => return false,
            };
            re.is_match(&text)
        })
    }

    /// The filters as text, for messages.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(n, _, r)| format!("{n} =~ /{}/", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses CloudStack's `created` timestamps (`2006-01-02T15:04:05-0700`)
/// into a sortable key; unparsable ones sort first.
pub fn created_key(s: Option<&str>) -> String {
    // The format is fixed-width with the offset last; comparing the UTC
    // instant needs the offset applied, so convert to seconds.
    s.and_then(parse_created)
        .map(|t| format!("{t:020}"))
        .unwrap_or_default()
}

fn parse_created(s: &str) -> Option<i64> {
    if s.len() < 24 {
        return None;
    }
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let sign = if s.get(19..20)? == "-" { -1 } else { 1 };
    let (oh, om) = (num(20, 22)?, num(22, 24)?);
    // days from civil (Howard Hinnant's algorithm), small enough to inline
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60) + 1_000_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_fields_without_underscores() {
        let cfg = Value::object([(
            "filter",
            Value::set([Value::object([
                ("name", "display_text"),
                ("value", "^Ubuntu"),
            ])]),
        )]);
        let mut d = Diagnostics::default();
        let f = Filters::parse(&cfg, &mut d).unwrap();
        assert!(f.matches(&serde_json::json!({"displaytext": "Ubuntu 14.04"})));
        assert!(!f.matches(&serde_json::json!({"displaytext": "CentOS"})));
        assert!(!f.matches(&serde_json::json!({"name": "Ubuntu"})));
        let bad = Value::object([(
            "filter",
            Value::set([Value::object([("name", "name"), ("value", "(")])]),
        )]);
        assert!(Filters::parse(&bad, &mut d).is_none());
        assert!(d.has_errors());
    }

    #[test]
    fn created_orders_by_instant() {
        let a = created_key(Some("2020-01-01T10:00:00+0200")); // 08:00 UTC
        let b = created_key(Some("2020-01-01T09:00:00+0000")); // 09:00 UTC
        assert!(a < b);
        assert!(created_key(None) < a);
        assert!(created_key(Some("2019-12-31T23:59:59+0000")) < a);
    }

    use crate::common::testenv;

    fn filter(name: &str, value: &str) -> Value {
        Value::object([(
            "filter",
            Value::set([Value::object([("name", name), ("value", value)])]),
        )])
    }

    #[tokio::test]
    async fn data_sources_against_the_simulator() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let mut d = Diagnostics::default();
        let z = Typed(zone::Zone)
            .read(c, &filter("name", "^zone001$"), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(z.get_str("network_type"), Some("Advanced"));
        assert_eq!(z.get_str("id"), Some(testenv::ZONE_ID));

        let none = Typed(zone::Zone)
            .read(c, &filter("name", "^nope$"), &mut d)
            .await;
        assert!(none.is_null());
        assert!(d.0.last().unwrap().detail.contains("zone001"));

        let mut d = Diagnostics::default();
        let mut cfg = filter("name", "^Ubuntu 14\\.04$");
        cfg.set_attr("template_filter", "executable");
        let t = Typed(template::Template).read(c, &cfg, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(
            t.get_str("template_id"),
            Some("936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5")
        );
        assert_eq!(t.get_str("format"), Some("QCOW2"));

        let s = Typed(service_offering::ServiceOffering)
            .read(c, &filter("name", "medium"), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(s.get_str("name"), Some("t1.medium"));
    }
}
