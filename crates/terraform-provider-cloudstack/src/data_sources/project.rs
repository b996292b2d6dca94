//! `data "cloudstack_project"`: the newest project matching every `filter` (Go schema:
//! `name`, `displaytext`, `domain`, `account`, `state`, `tags`). Written on the typed-model
//! kit.

use std::collections::BTreeMap;

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, pick, str_field, FilterModel, FilteredView, Filters};
use crate::kit::{Ctx, TypedDataSource};

/// The `cloudstack_project` data source.
#[derive(Debug)]
pub struct Project;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    name: Field<String>,
    displaytext: Field<String>,
    domain: Field<String>,
    account: Field<String>,
    state: Field<String>,
    tags: Field<BTreeMap<String, String>>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    let mut b = Block::new().attribute(Attribute::computed("id", Type::String));
    for a in ["name", "displaytext", "domain", "account", "state"] {
        b = b.attribute(Attribute::computed(a, Type::String));
    }
    filtered_schema(b.attribute(Attribute::optional_computed(
        "tags",
        Type::map(Type::String),
    )))
}

#[async_trait]
impl TypedDataSource for Project {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_project"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let params = Params::new().with("listall", "true");
        let all = list_all(
            cx.c,
            "listProjects",
            "project",
            &params,
            "projects",
            None,
            diags,
        )
        .await?;
        let best = pick(&all, &filters, "project", diags)?;
        let known = |k: &str| str_field(best, k).map_or(Field::Null, Field::Known);
        m.id = known("id");
        m.name = known("name");
        m.displaytext = known("displaytext");
        m.domain = known("domain");
        m.state = known("state");
        m.account = best
            .get("owner")
            .and_then(|o| o.as_array())
            .and_then(|o| o.iter().find_map(|x| str_field(x, "account")))
            .map_or(Field::Null, Field::Known);
        let tags: BTreeMap<String, String> = best
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|t| {
                t.iter()
                    .filter_map(|x| Some((str_field(x, "key")?, str_field(x, "value")?)))
                    .collect()
            })
            .unwrap_or_default();
        m.tags = Field::Known(tags);
        Some(m)
    }
}
