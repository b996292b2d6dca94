//! `data "cloudstack_template"`: the newest template (by `created`, like the
//! Go provider) of `template_filter` matching every `filter`. Filters on
//! missing or non-string fields do not match instead of crashing.

use std::collections::BTreeMap;

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, newest, FilterModel, FilteredView, Filters};
use crate::{
    attr,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_template` data source.
#[derive(Debug)]
pub struct Template;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    template_filter: Option<String>,
    template_id: Option<String>,
    account: Option<String>,
    created: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    format: Option<String>,
    hypervisor: Option<String>,
    size: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
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

/// Field `k` of a listed object as text (numbers such as `size` too).
fn text(o: &serde_json::Value, k: &str) -> Option<String> {
    match o.get(k) {
        Some(serde_json::Value::String(x)) => Some(x.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

#[async_trait]
impl TypedDataSource for Template {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_template"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let tf = m.template_filter.as_deref().unwrap_or("executable");
        let p = Params::new()
            .with("templatefilter", tf)
            .with("listall", "true");
        let attr = Some(attr!(Model, template_filter));
        let all = list_all(
            cx.c,
            "listTemplates",
            "template",
            &p,
            "templates",
            attr,
            diags,
        )
        .await?;
        let Some(best) = newest(&all, &filters) else {
            let mut names: Vec<String> = all.iter().filter_map(|o| text(o, "name")).collect();
            names.sort();
            names.dedup();
            diags.attribute_error(
                attr!(Model, filter),
                "No template is matching with the specified regex",
                format!(
                    "filters: {}; templates ({tf}): {}",
                    filters.describe(),
                    names.join(", ")
                ),
            );
            return None;
        };
        m.id = text(best, "id");
        m.template_id = text(best, "id");
        m.account = text(best, "account");
        m.created = text(best, "created");
        m.name = text(best, "name");
        m.display_text = text(best, "displaytext");
        m.format = text(best, "format");
        m.hypervisor = text(best, "hypervisor");
        m.size = text(best, "size");
        let tags: BTreeMap<String, String> = best
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| Some((text(t, "key")?, text(t, "value").unwrap_or_default())))
                    .collect()
            })
            .unwrap_or_default();
        m.tags = Some(tags);
        Some(m)
    }
}
