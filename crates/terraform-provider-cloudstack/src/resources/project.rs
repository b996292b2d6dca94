//! `cloudstack_project`: a project, the Go provider's schema. `name` and `displaytext`
//! change in place (`updateProject`), as do the owner attributes (`swapowner`); `domain`
//! (a name or an id, as the Go provider takes it) forces a new project. Import by id.
//! Written on the typed-model kit.

use cloudstack::{project::Project as CsProject, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait, model::Field, Attribute, AttributePath, Block, Diagnostics, Schema, Type, Value,
};

use crate::{
    attr,
    common::{attr_in_text, bounded, deleted, found, keep_spelling, resolve, OpError},
    kit::{Ctx, Planning, TypedResource},
    provider::Handle,
};

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    domain: Field<String>,
}

/// The `cloudstack_project` resource.
#[derive(Debug)]
pub struct Project {
    handle: Handle,
}

impl Project {
    /// `handle` lets the plan tell a domain's name from its id.
    pub fn new(handle: Handle) -> Project {
        Project { handle }
    }
}

/// The resource's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    displaytext: Option<String>,
    domain: Field<String>,
    account: Option<String>,
    accountid: Option<String>,
    userid: Option<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(
                Attribute::optional("displaytext", Type::String)
                    .description("Defaults to the name in CloudStack."),
            )
            .attribute(Attribute::optional_computed("domain", Type::String).force_new())
            .attribute(Attribute::optional("account", Type::String))
            .attribute(Attribute::optional("accountid", Type::String))
            .attribute(Attribute::optional("userid", Type::String)),
    )
}

impl Model {
    /// The state for project `p`; owner attributes and `displaytext` are read back only
    /// when the configuration sets them (as the Go provider), so CloudStack's defaults
    /// show no diff; after an import (no name yet) `displaytext` is read too.
    fn fill(mut self, p: &CsProject) -> Model {
        let imported = self.name.is_null();
        self.id = Field::Known(p.id.clone());
        self.name = p.name.clone().map_or(Field::Null, Field::Known);
        if self.displaytext.is_some() || imported {
            self.displaytext = p.displaytext.clone();
        }
        // the user's spelling (name or id) while it still names the project's domain
        self.domain = match &p.domainid {
            Some(did) => {
                let spelled = keep_spelling(
                    self.domain.known().map(String::as_str),
                    p.domain.as_deref(),
                    did,
                );
                spelled
                    .as_str()
                    .map_or(Field::Null, |s| Field::Known(s.to_string()))
            }
            None => p.domain.clone().map_or(Field::Null, Field::Known),
        };
        for (slot, key) in [
            (&mut self.account, "account"),
            (&mut self.accountid, "accountid"),
            (&mut self.userid, "userid"),
        ] {
            if slot.is_some() {
                *slot = p.owner_field(key);
            }
        }
        self
    }
}

async fn find(cx: Ctx<'_>, id: &str) -> Result<Option<CsProject>, OpError> {
    bounded(cx.c, cx.c.timeout, cx.c.api.get_project(id)).await
}

/// Reads the project back after a change; `None` after a diagnostic.
async fn read_back(cx: Ctx<'_>, m: Model, id: &str, diags: &mut Diagnostics) -> Option<Model> {
    match find(cx, id).await {
        Ok(Some(p)) => Some(m.fill(&p)),
        Ok(None) => {
            diags.error(
                format!("Project {id} vanished"),
                "It was deleted outside Terraform.",
            );
            None
        }
        Err(e) => {
            diags.push(e.diagnostic(&format!("reading project {id}"), None, "read"));
            None
        }
    }
}

#[async_trait]
impl TypedResource for Project {
    fn create_command(&self) -> Option<&'static str> {
        Some("createProject")
    }

    type Model = Model;

    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_project"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    /// `domain` written as the id of the domain the state names (or the
    /// other way round, e.g. after an import) is the same domain: no
    /// replacement, and the state takes the configuration's spelling.
    async fn modify_plan(&self, plan: &mut Planning<'_, View>, _diags: &mut Diagnostics) {
        const DOMAIN: &str = attr!(Model, domain);
        let Some(c) = self.handle.get() else { return };
        let (Some(before), Some(after)) = (
            plan.prior.as_ref().and_then(|p| p.domain.known()),
            plan.planned.domain.known(),
        ) else {
            return;
        };
        if before == after {
            return;
        }
        // lookups only: an unknown name is reported by the apply that needs it
        let mut quiet = Diagnostics::default();
        let kind = cloudstack::Resource::Domain;
        let none = Params::new();
        let a = resolve(c, kind, DOMAIN, before, &none, &mut quiet).await;
        let b = resolve(c, kind, DOMAIN, after, &none, &mut quiet).await;
        if a.is_none() || a != b {
            return;
        }
        let domain = AttributePath::attr(DOMAIN);
        plan.requires_replace.retain(|p| *p != domain);
        if plan.requires_replace.is_empty() {
            // the generic plan made computed values unknown for a new object:
            // every one (whatever its name) takes the prior value again
            if let (Value::Object(planned), Some(prior)) =
                (&mut *plan.raw_planned, plan.raw_prior.as_map())
            {
                for (k, v) in planned.iter_mut() {
                    if matches!(v, Value::Unknown) {
                        if let Some(p) = prior.get(k) {
                            *v = p.clone();
                        }
                    }
                }
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let name = plan.name.non_empty()?.to_string();
        let mut extra = Params::new();
        extra
            .set_opt("account", plan.account.as_deref())
            .set_opt("accountid", plan.accountid.as_deref())
            .set_opt("userid", plan.userid.as_deref());
        if let Some(d) = plan.domain.non_empty() {
            let kind = cloudstack::Resource::Domain;
            let id = resolve(cx.c, kind, attr!(Model, domain), d, &Params::new(), diags).await?;
            extra.set("domainid", id);
        }
        let display = plan.displaytext.clone().unwrap_or_else(|| name.clone());
        let created = cx.c.api.create_project(&name, &display, &extra);
        match bounded(cx.c, cx.c.timeout, created).await {
            Ok(p) => Some(plan.fill(&p)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("name", attr!(Model, name)),
                        ("domain", attr!(Model, domain)),
                        ("account", attr!(Model, account)),
                    ],
                );
                diags.push(e.diagnostic(&format!("creating project {name}"), attr, "create"));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let p = found(find(cx, &id).await, "project", &id, "read", diags)?;
        Some(state.fill(&p))
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let id = prior.id.known()?.clone();
        let mut p = Params::new();
        if plan.name != prior.name {
            p.set_opt("name", plan.name.non_empty());
        }
        if plan.displaytext != prior.displaytext {
            p.set("displaytext", plan.displaytext.as_deref().unwrap_or(""));
        }
        let owner_changed = plan.account != prior.account
            || plan.accountid != prior.accountid
            || plan.userid != prior.userid;
        if owner_changed {
            p.set("swapowner", "true")
                .set_opt("account", plan.account.as_deref())
                .set_opt("userid", plan.userid.as_deref());
        }
        if p.iter().next().is_some() {
            let updated = cx.c.api.update_project(&id, &p);
            if let Err(e) = bounded(cx.c, cx.c.timeout, updated).await {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("name", attr!(Model, name)),
                        ("account", attr!(Model, account)),
                    ],
                );
                diags.push(e.diagnostic(&format!("updating project {id}"), attr, "update"));
                return None;
            }
        }
        read_back(cx, plan, &id, diags).await
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        deleted(
            bounded(cx.c, cx.c.timeout, cx.c.api.delete_project(id)).await,
            &format!("deleting project {id}"),
            diags,
        );
    }

    /// `terraform import cloudstack_project.x <id>`.
    fn import(&self, import_id: &str) -> Vec<Value> {
        vec![Value::object([(attr!(Model, id), import_id)])]
    }
}
