//! `cloudstack_disk`: a data volume, optionally attached to a VM, with the Go provider's
//! schema. `disk_offering` and `size` changes resize it in place (`resizeVolume`; shrinking
//! needs `shrink_ok`, and `reattach_on_change` detaches it around the resize);
//! `attach`/`virtual_machine_id`/`device_id` changes detach and attach it; a disk detached
//! or deleted outside Terraform shows in the plan. Import by `<id>` or `<project>/<id>`.
//!
//! Differences from the Go provider: errors name the attribute to fix; a disk attached when
//! `attach = true` but `virtual_machine_id` is unset is an error at plan time instead of a
//! silent no-op.

use cloudstack::{model::Volume, volume::CreateVolume, Params, Resource as Kind};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};

use crate::{
    common::{
        attr_in_text, bounded, changed, get_str, import_state, keep_spelling,
        planned_unless_failed, read_by_id, resolve, resolve_project, tags_of, tags_value,
        update_planned_tags, update_tags, OpError,
    },
    provider::Client,
};

/// CloudStack's resource type for tags on volumes.
const TAG_TYPE: &str = "Volume";
const GIB: i64 = 1 << 30;

/// The `cloudstack_disk` resource.
#[derive(Debug)]
pub struct Disk;

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

/// The volume by id; with a project, every project's volumes are searched.
async fn find(c: &Client, id: &str, in_project: bool) -> Result<Option<Volume>, OpError> {
    bounded(c, c.timeout, c.api.get_volume(id, in_project)).await
}

/// The state for volume `v`, keeping the user's spelling of names that still denote it.
fn fill_state(base: &Value, v: &Volume) -> Value {
    let mut s = base.clone();
    s.set_attr("id", v.id.as_str());
    s.set_attr("name", Value::from(v.name.clone()));
    s.set_attr("attach", v.virtualmachineid.is_some());
    if let Some(size) = v.size {
        s.set_attr("size", size / GIB);
    }
    if let Some(id) = &v.diskofferingid {
        let spelled = keep_spelling(
            base.get_str("disk_offering"),
            v.diskofferingname.as_deref(),
            id,
        );
        s.set_attr("disk_offering", spelled);
    }
    if let Some(id) = &v.zoneid {
        let spelled = keep_spelling(base.get_str("zone"), v.zonename.as_deref(), id);
        s.set_attr("zone", spelled);
    }
    if let Some(p) = &v.projectid {
        let spelled = keep_spelling(base.get_str("project"), v.project.as_deref(), p);
        s.set_attr("project", spelled);
    }
    if let Some(vm) = &v.virtualmachineid {
        s.set_attr("virtual_machine_id", vm.as_str());
        s.set_attr("device_id", Value::from(v.deviceid));
    }
    s.set_attr("delete_protection", v.deleteprotection.unwrap_or(false));
    s.set_attr("tags", tags_value(&v.tags));
    // whatever is still unknown was not set by CloudStack: null
    if let Value::Object(m) = &mut s {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    s
}

/// Words of CloudStack's volume errors → the attribute to fix.
const ERROR_ATTRS: [(&str, &str); 6] = [
    ("custom size", "size"),
    ("size", "size"),
    ("disk offering", "disk_offering"),
    ("deviceid", "device_id"),
    ("vm", "virtual_machine_id"),
    ("zone", "zone"),
];

/// Attaches volume `id` to the planned VM, at `device` if given (else CloudStack picks the
/// lowest free one); `None` after a diagnostic.
async fn attach(
    c: &Client,
    id: &str,
    planned: &Value,
    device: Option<i64>,
    diags: &mut Diagnostics,
) -> Option<Volume> {
    let Some(vm) = get_str(planned, "virtual_machine_id") else {
        diags.attribute_error(
            "virtual_machine_id",
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

/// Resolves `disk_offering` to an id; `None` after a diagnostic (or when unset).
async fn offering_id(c: &Client, planned: &Value, diags: &mut Diagnostics) -> Option<String> {
    let name = get_str(planned, "disk_offering")?;
    resolve(
        c,
        Kind::DiskOffering,
        "disk_offering",
        name,
        &Params::new(),
        diags,
    )
    .await
}

impl Disk {
    async fn create_inner(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(name), Some(zone)) = (get_str(planned, "name"), get_str(planned, "zone")) else {
            diags.attribute_error("zone", "name and zone are required", "");
            return Value::Null;
        };
        let Some(zone_id) = resolve(c, Kind::Zone, "zone", zone, &Params::new(), diags).await
        else {
            return Value::Null;
        };
        let Some(offering) = offering_id(c, planned, diags).await else {
            if !diags.has_errors() {
                diags.attribute_error(
                    "disk_offering",
                    "disk_offering is required to create a disk",
                    "Name a disk offering (data source cloudstack_disk_offering or listDiskOfferings).",
                );
            }
            return Value::Null;
        };
        let project_id = match get_str(planned, "project") {
            Some(p) => match resolve_project(c, "project", p, diags).await {
                Some(id) => Some(id),
                None => return Value::Null,
            },
            None => None,
        };
        let req = CreateVolume {
            name: name.to_string(),
            zone_id,
            disk_offering_id: offering,
            size_gb: planned.get_i64("size").filter(|s| *s != 0),
            project_id,
        };
        let vol = match bounded(c, c.timeout, c.api.create_volume(&req)).await {
            Ok(v) => v,
            Err(e) => {
                let attr = attr_in_text(&e, &ERROR_ATTRS).or(Some("name"));
                diags.push(e.diagnostic(&format!("creating disk {name}"), attr, "create"));
                return Value::Null;
            }
        };
        let mut state = fill_state(planned, &vol);
        let tags = tags_of(planned);
        if !tags.is_empty() {
            if let Err(e) =
                update_tags(c, c.timeout, TAG_TYPE, &vol.id, &Default::default(), &tags).await
            {
                diags.push(e.diagnostic("tagging the disk", Some("tags"), "create"));
                return state;
            }
        }
        if planned.get_bool("attach") == Some(true) {
            let device = planned.get_i64("device_id");
            match attach(c, &vol.id, planned, device, diags).await {
                Some(v) => state = fill_state(planned, &v),
                None => return state,
            }
        }
        match find(c, &vol.id, true).await {
            Ok(Some(v)) => fill_state(planned, &v),
            _ => state,
        }
    }

    async fn update_inner(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(id) = prior.get_str("id").map(str::to_string) else {
            return Value::Null;
        };
        let ch = |n: &str| changed(prior, planned, n);
        if ch("disk_offering") || ch("size") {
            if planned.get_bool("reattach_on_change") == Some(true)
                && !detach_if_attached(c, &id, diags).await
            {
                return Value::Null;
            }
            let offering = match get_str(planned, "disk_offering") {
                Some(_) => match offering_id(c, planned, diags).await {
                    Some(o) => Some(o),
                    None => return Value::Null,
                },
                None => None,
            };
            // a new offering alone is sent without size (a fixed offering refuses one)
            let size = if ch("size") {
                planned.get_i64("size")
            } else {
                None
            };
            let shrink_ok = planned.get_bool("shrink_ok").unwrap_or(false);
            let resized = c
                .api
                .resize_volume(&id, offering.as_deref(), size, shrink_ok);
            if let Err(e) = bounded(c, c.timeout, resized).await {
                let attr = attr_in_text(&e, &[("shrinkok", "shrink_ok")])
                    .or_else(|| attr_in_text(&e, &ERROR_ATTRS));
                diags.push(e.diagnostic(&format!("resizing disk {id}"), attr, "update"));
                return Value::Null;
            }
        }
        if (ch("device_id") || ch("virtual_machine_id")) && !detach_if_attached(c, &id, diags).await
        {
            return Value::Null;
        }
        let attached = match find(c, &id, true).await {
            Ok(Some(v)) => v.virtualmachineid.is_some(),
            Ok(None) => {
                diags.error(
                    format!("Disk {id} no longer exists"),
                    "It was deleted outside Terraform; run `terraform apply` again to recreate it.",
                );
                return Value::Null;
            }
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading disk {id}"), None, "update"));
                return Value::Null;
            }
        };
        if planned.get_bool("attach") == Some(true) {
            // the device of the prior attachment may be taken by now: only a changed
            // device_id is asked for
            let device = ch("device_id")
                .then(|| planned.get_i64("device_id"))
                .flatten();
            if !attached && attach(c, &id, planned, device, diags).await.is_none() {
                return Value::Null;
            }
        } else if attached && !detach_if_attached(c, &id, diags).await {
            return Value::Null;
        }
        if !update_planned_tags(c, c.timeout, TAG_TYPE, &id, prior, planned, diags).await {
            return Value::Null;
        }
        match find(c, &id, true).await {
            Ok(Some(v)) => fill_state(planned, &v),
            Ok(None) => Value::Null,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading disk {id}"), None, "update"));
                Value::Null
            }
        }
    }
}

#[async_trait]
impl Resource<Client> for Disk {
    fn type_name(&self) -> &'static str {
        "cloudstack_disk"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if config.get_bool("attach") == Some(true) && config.get("virtual_machine_id").is_null() {
            diags.attribute_error(
                "virtual_machine_id",
                "attach = true needs virtual_machine_id",
                "Set virtual_machine_id to the VM the disk belongs to, or attach = false.",
            );
        }
        if let Some(s) = config.get_i64("size") {
            if s < 0 {
                diags.attribute_error("size", "size must be positive", "In GiB.");
            }
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let state = self.create_inner(c, planned, diags).await;
        planned_unless_failed(planned, state, diags)
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let in_project = !state.get("project").is_null();
        let lookup = |id| find(c, id, in_project);
        read_by_id(state, "disk", diags, lookup, |v| fill_state(state, v)).await
    }

    async fn update(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let state = self.update_inner(c, prior, planned, diags).await;
        planned_unless_failed(planned, state, diags)
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        if !detach_if_attached(c, id, diags).await {
            return;
        }
        match bounded(c, c.timeout, c.api.delete_volume(id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => diags.push(e.diagnostic(&format!("deleting disk {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_disk.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        import_state(
            id,
            &[
                ("shrink_ok", Value::from(false)),
                ("reattach_on_change", Value::from(false)),
            ],
        )
    }
}
