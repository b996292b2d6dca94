//! `cloudstack_disk`: a data volume, optionally attached to a VM, with the Go provider's
//! schema. `disk_offering` and `size` changes resize it in place (`resizeVolume`; shrinking
//! needs `shrink_ok`, and `reattach_on_change` detaches it around the resize);
//! `attach`/`virtual_machine_id`/`device_id` changes detach and attach it;
//! `delete_protection` is set with `updateVolume` (CloudStack 4.20+), and CloudStack refuses
//! to delete a protected disk; a disk detached or deleted outside Terraform shows in the
//! plan. Import by `<id>` or `<project>/<id>`. Written on the typed-model kit: a disk
//! CloudStack accepted is kept (tainted) when its create fails later.
//!
//! Differences from the Go provider: errors name the attribute to fix; a disk attached when
//! `attach = true` but `virtual_machine_id` is unset is an error at plan time instead of a
//! silent no-op.

use std::collections::BTreeMap;

use cloudstack::{model::Volume, volume::CreateVolume, Params, Resource as Kind};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{
        attr_in_text, bounded, found, keep_spelling, resolve, split_import_id, tags_map,
        update_tags, OpError,
    },
    kit::{imported, Ctx, TypedResource},
    provider::Client,
};

/// CloudStack's resource type for tags on volumes.
const TAG_TYPE: &str = "Volume";
const GIB: i64 = 1 << 30;

/// The `cloudstack_disk` resource.
#[derive(Debug)]
pub struct Disk;

/// The resource's attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    attach: Field<bool>,
    device_id: Field<i64>,
    disk_offering: Field<String>,
    size: Field<i64>,
    shrink_ok: Option<bool>,
    virtual_machine_id: Field<String>,
    project: Field<String>,
    zone: Field<String>,
    reattach_on_change: Option<bool>,
    delete_protection: Field<bool>,
    tags: Field<BTreeMap<String, String>>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(
                Attribute::optional_computed("attach", Type::Bool)
                    .description("Attach the disk to `virtual_machine_id`."),
            )
            .attribute(Attribute::optional_computed("device_id", Type::Number))
            .attribute(
                Attribute::optional("disk_offering", Type::String)
                    .description("Name or id; a change resizes the disk in place."),
            )
            .attribute(
                Attribute::optional_computed("size", Type::Number)
                    .description("GiB, for a custom disk offering."),
            )
            .attribute(Attribute::optional("shrink_ok", Type::Bool).default(false))
            .attribute(Attribute::optional_computed(
                "virtual_machine_id",
                Type::String,
            ))
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::required("zone", Type::String).force_new())
            .attribute(Attribute::optional("reattach_on_change", Type::Bool).default(false))
            .attribute(Attribute::optional_computed(
                "delete_protection",
                Type::Bool,
            ))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            )),
    )
}

/// `spelled` (from [`keep_spelling`]) as a field.
fn spelled(v: Value) -> Field<String> {
    v.as_str().map(str::to_string).into()
}

impl Model {
    /// The model for volume `v`, keeping the user's spelling of names that still denote it;
    /// what CloudStack does not say stays as planned.
    fn fill(mut self, v: &Volume) -> Model {
        self.id = Field::Known(v.id.clone());
        self.name = v.name.clone().into();
        self.attach = Field::Known(v.virtualmachineid.is_some());
        if let Some(size) = v.size {
            self.size = Field::Known(size / GIB);
        }
        if let Some(id) = &v.diskofferingid {
            let prior = self.disk_offering.known().map(String::as_str);
            self.disk_offering = spelled(keep_spelling(prior, v.diskofferingname.as_deref(), id));
        }
        if let Some(id) = &v.zoneid {
            let prior = self.zone.known().map(String::as_str);
            self.zone = spelled(keep_spelling(prior, v.zonename.as_deref(), id));
        }
        if let Some(p) = &v.projectid {
            let prior = self.project.known().map(String::as_str);
            self.project = spelled(keep_spelling(prior, v.project.as_deref(), p));
        }
        if let Some(vm) = &v.virtualmachineid {
            self.virtual_machine_id = Field::Known(vm.clone());
            self.device_id = v.deviceid.into();
        }
        self.delete_protection = Field::Known(v.deleteprotection.unwrap_or(false));
        self.tags = Field::Known(tags_map(&v.tags));
        self
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.known().cloned().unwrap_or_default()
    }
}

/// The volume by id; with a project, every project's volumes are searched.
async fn find(c: &Client, id: &str, in_project: bool) -> Result<Option<Volume>, OpError> {
    bounded(c, c.timeout, c.api.get_volume(id, in_project)).await
}

/// Words of CloudStack's volume errors → the attribute to fix.
const ERROR_ATTRS: [(&str, &str); 7] = [
    ("delete protection", attr!(Model, delete_protection)),
    ("custom size", attr!(Model, size)),
    ("size", attr!(Model, size)),
    ("disk offering", attr!(Model, disk_offering)),
    ("deviceid", attr!(Model, device_id)),
    ("vm", attr!(Model, virtual_machine_id)),
    ("zone", attr!(Model, zone)),
];

/// Attaches volume `id` to the planned VM, at `device` if given (else CloudStack picks the
/// lowest free one); `None` after a diagnostic.
async fn attach(
    c: &Client,
    id: &str,
    plan: &Model,
    device: Option<i64>,
    diags: &mut Diagnostics,
) -> Option<Volume> {
    let Some(vm) = plan.virtual_machine_id.non_empty() else {
        diags.attribute_error(
            attr!(Model, virtual_machine_id),
            "attach = true needs virtual_machine_id",
            "Set virtual_machine_id to the VM the disk belongs to, or attach = false.",
        );
        return None;
    };
    match bounded(c, c.timeout, c.api.attach_volume(id, vm, device)).await {
        Ok(v) => Some(v),
        Err(e) => {
            let attr = attr_in_text(&e, &ERROR_ATTRS);
            diags.push(e.diagnostic(&format!("attaching disk {id} to VM {vm}"), attr, "update"));
            None
        }
    }
}

/// Detaches volume `id` when it is attached; false after a diagnostic.
async fn detach_if_attached(c: &Client, id: &str, diags: &mut Diagnostics) -> bool {
    match find(c, id, true).await {
        Ok(Some(v)) if v.virtualmachineid.is_some() => {}
        Ok(_) => return true,
        Err(e) => {
            diags.push(e.diagnostic(&format!("reading disk {id}"), None, "update"));
            return false;
        }
    }
    match bounded(c, c.timeout, c.api.detach_volume(id)).await {
        Ok(_) => true,
        Err(e) => {
            diags.push(e.diagnostic(&format!("detaching disk {id}"), None, "update"));
            false
        }
    }
}

/// Turns the delete protection of volume `id` on or off (`updateVolume`); false after a
/// diagnostic on `delete_protection`.
async fn protect(c: &Client, id: &str, on: bool, op: &str, diags: &mut Diagnostics) -> bool {
    match bounded(c, c.timeout, c.api.set_volume_delete_protection(id, on)).await {
        Ok(_) => true,
        Err(e) => {
            let action = format!("updating the delete protection of disk {id}");
            diags.push(e.diagnostic(&action, Some(attr!(Model, delete_protection)), op));
            false
        }
    }
}

/// Resolves `disk_offering` to an id; `None` after a diagnostic (or when unset).
async fn offering_id(c: &Client, plan: &Model, diags: &mut Diagnostics) -> Option<String> {
    let name = plan.disk_offering.non_empty()?;
    resolve(
        c,
        Kind::DiskOffering,
        attr!(Model, disk_offering),
        name,
        &Params::new(),
        diags,
    )
    .await
}

/// Reads the disk back after a change; `None` after a diagnostic.
async fn read_back(c: &Client, plan: Model, id: &str, diags: &mut Diagnostics) -> Option<Model> {
    match find(c, id, true).await {
        Ok(Some(v)) => Some(plan.fill(&v)),
        Ok(None) => {
            diags.error(
                format!("Disk {id} no longer exists"),
                "It was deleted outside Terraform; run `terraform apply` again to recreate it.",
            );
            None
        }
        Err(e) => {
            diags.push(e.diagnostic(&format!("reading disk {id}"), None, "update"));
            None
        }
    }
}

#[async_trait]
impl TypedResource for Disk {
    type Model = Model;
    type View = Model;

    fn type_name(&self) -> &'static str {
        "cloudstack_disk"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("createVolume")
    }

    async fn validate(&self, m: Model, diags: &mut Diagnostics) {
        if m.attach.known() == Some(&true) && m.virtual_machine_id.is_null() {
            diags.attribute_error(
                attr!(Model, virtual_machine_id),
                "attach = true needs virtual_machine_id",
                "Set virtual_machine_id to the VM the disk belongs to, or attach = false.",
            );
        }
        if m.size.known().is_some_and(|s| *s < 0) {
            diags.attribute_error(attr!(Model, size), "size must be positive", "In GiB.");
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let name = plan.name.non_empty()?.to_string();
        let zone = plan.zone.non_empty().unwrap_or_default();
        let zone_id = resolve(
            c,
            Kind::Zone,
            attr!(Model, zone),
            zone,
            &Params::new(),
            diags,
        )
        .await?;
        let Some(offering) = offering_id(c, &plan, diags).await else {
            if !diags.has_errors() {
                diags.attribute_error(
                    attr!(Model, disk_offering),
                    "disk_offering is required to create a disk",
                    "Name a disk offering (data source cloudstack_disk_offering or listDiskOfferings).",
                );
            }
            return None;
        };
        let project_id = cx.project_id(plan.project.non_empty(), diags).await.ok()?;
        let req = CreateVolume {
            name: name.clone(),
            zone_id,
            disk_offering_id: offering,
            size_gb: plan.size.known().copied().filter(|s| *s != 0),
            project_id,
        };
        let vol = match bounded(c, c.timeout, c.api.create_volume(&req)).await {
            Ok(v) => v,
            Err(e) => {
                let attr = attr_in_text(&e, &ERROR_ATTRS).or(Some(attr!(Model, name)));
                diags.push(e.diagnostic(&format!("creating disk {name}"), attr, "create"));
                return None;
            }
        };
        let tags = plan.tags();
        let mut state = plan.clone().fill(&vol);
        // as the Go provider: protection only when asked for (GetOk: true)
        if plan.delete_protection.known() == Some(&true)
            && !protect(c, &vol.id, true, "create", diags).await
        {
            return Some(state);
        }
        if !tags.is_empty() {
            if let Err(e) =
                update_tags(c, c.timeout, TAG_TYPE, &vol.id, &BTreeMap::new(), &tags).await
            {
                diags.push(e.diagnostic("tagging the disk", Some(attr!(Model, tags)), "create"));
                return Some(state);
            }
        }
        if plan.attach.known() == Some(&true) {
            let device = plan.device_id.known().copied();
            match attach(c, &vol.id, &plan, device, diags).await {
                Some(v) => state = plan.clone().fill(&v),
                None => return Some(state),
            }
        }
        match find(c, &vol.id, true).await {
            Ok(Some(v)) => Some(plan.fill(&v)),
            _ => Some(state),
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let v = found(
            find(cx.c, &id, !state.project.is_null()).await,
            "disk",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&v))
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        let id = prior.id.known()?.clone();
        let resized = prior.disk_offering != plan.disk_offering || prior.size != plan.size;
        if resized {
            if plan.reattach_on_change == Some(true) && !detach_if_attached(c, &id, diags).await {
                return None;
            }
            let offering = match plan.disk_offering.non_empty() {
                Some(_) => Some(offering_id(c, &plan, diags).await?),
                None => None,
            };
            // a new offering alone is sent without size (a fixed offering refuses one)
            let size = if prior.size != plan.size {
                plan.size.known().copied()
            } else {
                None
            };
            let shrink_ok = plan.shrink_ok.unwrap_or(false);
            let resizing = c
                .api
                .resize_volume(&id, offering.as_deref(), size, shrink_ok);
            if let Err(e) = bounded(c, c.timeout, resizing).await {
                let attr = attr_in_text(&e, &[("shrinkok", attr!(Model, shrink_ok))])
                    .or_else(|| attr_in_text(&e, &ERROR_ATTRS));
                diags.push(e.diagnostic(&format!("resizing disk {id}"), attr, "update"));
                return None;
            }
        }
        let moved = prior.device_id != plan.device_id
            || prior.virtual_machine_id != plan.virtual_machine_id;
        if moved && !detach_if_attached(c, &id, diags).await {
            return None;
        }
        let attached = read_back(c, plan.clone(), &id, diags).await?.attach.known() == Some(&true);
        if plan.attach.known() == Some(&true) {
            // the device of the prior attachment may be taken by now: only a changed
            // device_id is asked for
            let device = (prior.device_id != plan.device_id)
                .then(|| plan.device_id.known().copied())
                .flatten();
            if !attached && attach(c, &id, &plan, device, diags).await.is_none() {
                return None;
            }
        } else if attached && !detach_if_attached(c, &id, diags).await {
            return None;
        }
        if prior.tags != plan.tags {
            let (old, new) = (prior.tags(), plan.tags());
            if let Err(e) = update_tags(c, c.timeout, TAG_TYPE, &id, &old, &new).await {
                diags.push(e.diagnostic("updating tags", Some(attr!(Model, tags)), "update"));
                return None;
            }
        }
        if let Some(on) = plan.delete_protection.known() {
            if prior.delete_protection.known() != Some(on)
                && !protect(c, &id, *on, "update", diags).await
            {
                return None;
            }
        }
        read_back(c, plan, &id, diags).await
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        if !detach_if_attached(cx.c, id, diags).await {
            return;
        }
        match bounded(cx.c, cx.c.timeout, cx.c.api.delete_volume(id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                let attr = attr_in_text(&e, &ERROR_ATTRS[..1]);
                let mut d = e.diagnostic(&format!("deleting disk {id}"), attr, "delete");
                if attr.is_some() {
                    d.detail.push_str(
                        "\n\nSet delete_protection = false and apply before destroying the disk.",
                    );
                }
                diags.push(d);
            }
        }
    }

    /// `terraform import cloudstack_disk.x <id>` or `<project>/<id>`.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (project, id) = split_import_id(import_id);
        let m = Model {
            id: Field::Known(id.to_string()),
            project: project.map(str::to_string).into(),
            shrink_ok: Some(false),
            reattach_on_change: Some(false),
            ..Model::default()
        };
        imported(&m, &schema())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{
        common::testenv::{self, interrupted_client, ZONE_ID},
        kit::Typed,
    };
    use tfplugin5::Resource;

    fn planned(name: &str, protect: Value) -> Value {
        Value::object([
            ("id", Value::Unknown),
            ("name", Value::from(name)),
            ("attach", Value::Unknown),
            ("device_id", Value::Unknown),
            ("disk_offering", Value::from("Small")),
            ("size", Value::Unknown),
            ("shrink_ok", Value::from(false)),
            ("virtual_machine_id", Value::Unknown),
            ("project", Value::Unknown),
            ("zone", Value::from(ZONE_ID)),
            ("reattach_on_change", Value::from(false)),
            ("delete_protection", protect),
            ("tags", Value::Unknown),
        ])
    }

    /// A protected disk: CloudStack refuses to delete it, the error names
    /// `delete_protection` and the way out; turned off in place, it deletes.
    #[tokio::test]
    async fn delete_protection_is_set_and_guards_the_disk() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(Disk);
        let mut d = Diagnostics::default();
        let made = r
            .create(c, &planned("kept", Value::from(true)), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(made.is_fully_known(), "{made:?}");
        assert_eq!(made.get_bool("delete_protection"), Some(true));
        assert_eq!(r.read(c, &made, &mut d).await, made);

        let mut refused = Diagnostics::default();
        r.delete(c, &made, &mut refused).await;
        let e = &refused.0[0];
        assert_eq!(
            e.attribute.as_ref().map(|a| a.to_string()).as_deref(),
            Some("delete_protection"),
            "{e:?}"
        );
        assert!(e.detail.contains("delete protection enabled"), "{e:?}");
        assert_eq!(
            env.sim
                .world()
                .volumes
                .iter()
                .filter(|v| v.name == "kept")
                .count(),
            1
        );

        let mut off = made.clone();
        off.set_attr("delete_protection", false);
        let updated = r.update(c, &made, &off, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_bool("delete_protection"), Some(false));
        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(r.read(c, &updated, &mut d).await.is_null());
    }

    /// Ctrl-C while `createVolume`'s job runs: the disk is kept tainted with its id.
    #[tokio::test]
    async fn an_accepted_create_interrupted_is_kept_tainted() {
        let (env, c) = interrupted_client("createvolume").await;
        let mut d = Diagnostics::default();
        let state = Typed(Disk)
            .create(&c, &planned("data", Value::Unknown), &mut d)
            .await;
        let held: Vec<String> = env
            .sim
            .world()
            .volumes
            .iter()
            .filter(|v| v.name == "data")
            .map(|v| v.id.clone())
            .collect();
        testenv::assert_kept_tainted(&state, &d, &held);
    }
}
