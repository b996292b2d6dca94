//! `data "cloudstack_ssh_keypair"`: the SSH key pair matching every `filter` (Go schema:
//! `name`, `fingerprint`; the id is the name). Written on the typed-model kit.

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, pick, str_field, FilterModel, FilteredView, Filters};
use crate::kit::{Ctx, TypedDataSource};

/// The `cloudstack_ssh_keypair` data source.
#[derive(Debug)]
pub struct SshKeypair;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    name: Field<String>,
    fingerprint: Field<String>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("name", Type::String))
            .attribute(Attribute::computed("fingerprint", Type::String)),
    )
}

#[async_trait]
impl TypedDataSource for SshKeypair {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_ssh_keypair"
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
        let what = "ssh key pair";
        let all = list_all(
            cx.c,
            "listSSHKeyPairs",
            "sshkeypair",
            &params,
            what,
            None,
            diags,
        )
        .await?;
        let best = pick(&all, &filters, what, diags)?;
        let known = |k: &str| str_field(best, k).map_or(Field::Null, Field::Known);
        m.id = known("name");
        m.name = known("name");
        m.fingerprint = known("fingerprint");
        Some(m)
    }
}
