//! `data "cloudstack_template"`: the newest template (by `created`, like the
//! Go provider) of `template_filter` matching every `filter`. Filters on
//! missing or non-string fields do not match instead of crashing.

use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::{filtered_schema, list_all, newest, Filters};
use crate::provider::Client;

/// The `cloudstack_template` data source.
#[derive(Debug)]
pub struct Template;

#[async_trait]
impl DataSource<Client> for Template {
    fn type_name(&self) -> &'static str {
        "cloudstack_template"
    }

    fn schema(&self) -> Schema {
        filtered_schema(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::required("template_filter", Type::String))
                .attribute(Attribute::computed("template_id", Type::String))
                .attribute(Attribute::computed("account", Type::String))
                .attribute(Attribute::computed("created", Type::String))
                .attribute(Attribute::computed("name", Type::String))
                .attribute(Attribute::computed("display_text", Type::String))
                .attribute(Attribute::computed("format", Type::String))
                .attribute(Attribute::computed("hypervisor", Type::String))
                .attribute(Attribute::computed("size", Type::String))
                .attribute(Attribute::optional_computed(
                    "tags",
                    Type::map(Type::String),
                )),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        Filters::parse(config, diags);
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(filters) = Filters::parse(config, diags) else {
            return Value::Null;
        };
        let tf = config.get_str("template_filter").unwrap_or("executable");
        let p = Params::new()
            .with("templatefilter", tf)
            .with("listall", "true");
        let attr = Some("template_filter");
        let Some(all) =
            list_all(c, "listTemplates", "template", &p, "templates", attr, diags).await
        else {
            return Value::Null;
        };
        let s = |o: &serde_json::Value, k: &str| match o.get(k) {
            Some(serde_json::Value::String(x)) => Some(x.clone()),
            Some(serde_json::Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let Some(best) = newest(&all, &filters) else {
            let mut names: Vec<String> = all.iter().filter_map(|o| s(o, "name")).collect();
            names.sort();
            names.dedup();
            diags.attribute_error(
                "filter",
                "No template is matching with the specified regex",
                format!(
                    "filters: {}; templates ({tf}): {}",
                    filters.describe(),
                    names.join(", ")
                ),
            );
            return Value::Null;
        };
        let mut out = config.clone();
        out.set_attr("id", Value::from(s(best, "id")));
        out.set_attr("template_id", Value::from(s(best, "id")));
        for (attr, key) in [
            ("account", "account"),
            ("created", "created"),
            ("name", "name"),
            ("display_text", "displaytext"),
            ("format", "format"),
            ("hypervisor", "hypervisor"),
            ("size", "size"),
        ] {
            out.set_attr(attr, Value::from(s(best, key)));
        }
        let tags: std::collections::BTreeMap<String, Value> = best
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| {
                        Some((s(t, "key")?, Value::from(s(t, "value").unwrap_or_default())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.set_attr("tags", Value::Map(tags));
        out
    }
}
