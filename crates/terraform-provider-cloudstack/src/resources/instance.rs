//! `cloudstack_instance`: a virtual machine, with the Go provider's schema,
//! on the typed kit ([`crate::kit`]).
//!
//! Differences from the Go provider:
//! - `user_data` is kept in plan and state as its SHA1 hex, as the Go
//!   provider keeps it (`tfplugin5::stored_hash`), so its secrets never land
//!   in state or plan output; a state written by the Go provider plans no
//!   change, and one of an older mesostack release (plain text) is hashed
//!   when read.
//! - `keypair`, `project`, `root_disk_size`, `uefi`/`boot_mode`,
//!   `delete_protection` and `userdata_id` are read back (drift shows);
//!   names of zone, template and service offering are checked at plan time
//!   (unknown ones list what exists) and matched exactly.
//! - A deploy whose job outlives `timeouts.create` (or the provider's
//!   `timeout`), or whose answer is lost, keeps the VM's id: the instance is
//!   recorded (tainted) instead of forgotten, so no second VM appears.
//! - `timeouts { create, update, delete }`.
//!
//! Accepted but not read back: `host_id`, `cluster_id`, `pod_id`,
//! `properties`, `nicnetworklist`, `userdata_details`, `details` (sent at
//! deploy; `details` also updated in place). Affinity and security groups
//! are read back in whichever of `*_ids`/`*_names` is set, as the Go
//! provider does (affinity changes use `updateVMAffinityGroup`; security
//! groups replace the VM).

use std::{collections::BTreeMap, time::Duration};

use base64::Engine as _;
use cloudstack::{
    api::DeployVirtualMachine,
    model::{VirtualMachine, Volume},
    Params, Resource as Kind,
};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait,
    model::{Field, Timeouts},
    stored_hash::sha1_hex,
    Attribute, Block, Diagnostics, Schema, Type, Value,
};

use crate::{
    attr,
    common::{
        attr_in_text, bounded, deleted, found, import_state, learn_default_network, resolve,
        resolve_object, spelled, tags_map, update_tags, OpError,
    },
    kit::{Ctx, PlanStrings, Planning, TypedResource},
    provider::{Client, Handle},
};

/// CloudStack's resource type for tags on VMs.
const TAG_TYPE: &str = "UserVm";

/// The `cloudstack_instance` resource.
#[derive(Debug)]
pub struct Instance {
    handle: Handle,
}

impl Instance {
    /// `handle` lets plan-time checks reach the configured client.
    pub fn new(handle: Handle) -> Instance {
        Instance { handle }
    }
}

type Strings = BTreeMap<String, String>;

/// The resource's value (attribute names are the field names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_name: Option<String>,
    service_offering: Option<String>,
    disk_offering: Option<String>,
    override_disk_offering: Option<String>,
    network_id: Option<String>,
    ip_address: Option<String>,
    template: Option<String>,
    root_disk_size: Option<i64>,
    group: Option<String>,
    affinity_group_ids: Option<Vec<String>>,
    affinity_group_names: Option<Vec<String>>,
    security_group_ids: Option<Vec<String>>,
    security_group_names: Option<Vec<String>>,
    project: Option<String>,
    zone: Option<String>,
    keypair: Option<String>,
    keypairs: Option<Vec<String>>,
    host_id: Option<String>,
    cluster_id: Option<String>,
    pod_id: Option<String>,
    uefi: Option<bool>,
    boot_mode: Option<String>,
    start_vm: Option<bool>,
    user_data: Option<String>,
    userdata_id: Option<String>,
    userdata_details: Option<Strings>,
    details: Option<Strings>,
    properties: Option<Strings>,
    nicnetworklist: Option<Strings>,
    expunge: Option<bool>,
    delete_protection: Option<bool>,
    tags: Option<Strings>,
    timeouts: Option<Timeouts>,
}

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    zone: Field<String>,
    template: Field<String>,
    service_offering: Field<String>,
    uefi: Field<bool>,
    boot_mode: Field<String>,
    keypair: Field<String>,
    // element-wise unknowns too: `[cloudstack_security_group.sg.id]` before
    // the group exists must not keep the other checks from running
    keypairs: PlanStrings,
    affinity_group_ids: PlanStrings,
    affinity_group_names: PlanStrings,
    security_group_ids: PlanStrings,
    security_group_names: PlanStrings,
    root_disk_size: Field<i64>,
}

fn strings() -> Type {
    Type::set(Type::String)
}

fn schema() -> Schema {
    let b = Block::new()
        .attribute(Attribute::computed("id", Type::String))
        .attribute(Attribute::optional_computed("name", Type::String))
        .attribute(Attribute::optional_computed("display_name", Type::String))
        .attribute(
            Attribute::required("service_offering", Type::String).description(
                "Name (looked up in the zone) or id; a change stops and restarts the VM.",
            ),
        )
        .attribute(Attribute::optional_computed("disk_offering", Type::String).force_new())
        .attribute(Attribute::optional_computed("override_disk_offering", Type::String).force_new())
        .attribute(Attribute::optional_computed("network_id", Type::String).force_new())
        .attribute(Attribute::optional_computed("ip_address", Type::String).force_new())
        .attribute(
            Attribute::required("template", Type::String)
                .force_new()
                .description("Name (executable in the zone) or id."),
        )
        .attribute(Attribute::optional_computed("root_disk_size", Type::Number).force_new())
        .attribute(Attribute::optional_computed("group", Type::String))
        .attribute(Attribute::optional("affinity_group_ids", strings()))
        .attribute(Attribute::optional("affinity_group_names", strings()))
        .attribute(Attribute::optional("security_group_ids", strings()).force_new())
        .attribute(Attribute::optional("security_group_names", strings()).force_new())
        .attribute(Attribute::optional_computed("project", Type::String).force_new())
        .attribute(Attribute::required("zone", Type::String).force_new())
        .attribute(Attribute::optional("keypair", Type::String))
        .attribute(Attribute::optional("keypairs", Type::list(Type::String)))
        .attribute(Attribute::optional("host_id", Type::String))
        .attribute(Attribute::optional("cluster_id", Type::String))
        .attribute(Attribute::optional("pod_id", Type::String))
        .attribute(Attribute::optional("uefi", Type::Bool).default(false))
        .attribute(Attribute::optional("boot_mode", Type::String).force_new())
        .attribute(
            Attribute::optional("start_vm", Type::Bool)
                .default(true)
                .force_new(),
        )
        .attribute(Attribute::optional("user_data", Type::String).stored_as_sha1())
        .attribute(Attribute::optional("userdata_id", Type::String))
        .attribute(Attribute::optional(
            "userdata_details",
            Type::map(Type::String),
        ))
        .attribute(Attribute::optional("details", Type::map(Type::String)))
        .attribute(Attribute::optional("properties", Type::map(Type::String)))
        .attribute(Attribute::optional(
            "nicnetworklist",
            Type::map(Type::String),
        ))
        .attribute(
            Attribute::optional("expunge", Type::Bool)
                .default(false)
                .description("Expunge the VM on destroy (destroyVirtualMachine expunge=true)."),
        )
        .attribute(Attribute::optional_computed(
            "delete_protection",
            Type::Bool,
        ))
        .attribute(Attribute::optional_computed(
            "tags",
            Type::map(Type::String),
        ))
        .timeouts(&["create", "update", "delete"]);
    Schema::new(b)
}

/// Base64 of user data, accepting text that already is base64 (like Go).
fn encode_user_data(ud: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    if !ud.is_empty() && b64.decode(ud).is_ok() {
        ud.to_string()
    } else {
        b64.encode(ud.as_bytes())
    }
}

/// `name[i].key=value` (`kv`) or `name[i].<key>=value` map parameters
/// (CloudStack's encodings).
fn map_params(p: &mut Params, param: &str, m: Option<&Strings>, kv: bool) {
    for (i, (k, val)) in m.into_iter().flatten().enumerate() {
        if kv {
            p.set(format!("{param}[{i}].key"), k.as_str());
            p.set(format!("{param}[{i}].value"), val.as_str());
        } else {
            p.set(format!("{param}[{i}].{k}"), val.as_str());
        }
    }
}

/// Whether two optional sets hold the same strings (in any order).
fn same_set(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> bool {
    let sorted = |v: &Option<Vec<String>>| {
        v.as_ref().map(|v| {
            let mut v = v.clone();
            v.sort();
            v
        })
    };
    sorted(a) == sorted(b)
}

/// `Secure`/`Legacy`, the Go provider's spelling of CloudStack's `bootmode`.
fn boot_mode_spelling(mode: &str) -> String {
    let lower = mode.to_ascii_lowercase();
    let mut c = lower.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The state after a create, update or read: the user's values where they
/// still hold, CloudStack's where they are computed or drifted.
fn fill(mut m: Model, vm: &VirtualMachine, root_disk_gib: Option<i64>) -> Model {
    // after an import (no zone in state yet) take the key pair as it is
    let imported = m.zone.is_none();
    m.id = Some(vm.id.clone());
    m.name = vm.name.clone();
    m.display_name = vm.displayname.clone().or_else(|| vm.name.clone());
    m.group = vm.group.clone().filter(|g| !g.is_empty());
    let so = (
        vm.serviceofferingname.as_deref(),
        vm.serviceofferingid.as_deref(),
    );
    m.service_offering = spelled(m.service_offering, so.0, so.1);
    let tpl = (vm.templatename.as_deref(), vm.templateid.as_deref());
    m.template = spelled(m.template, tpl.0, tpl.1);
    m.zone = spelled(m.zone, vm.zonename.as_deref(), vm.zoneid.as_deref());
    m.project = match &vm.projectid {
        Some(pid) => spelled(m.project, vm.project.as_deref(), Some(pid)),
        None => None,
    };
    if let Some(nic) = vm.default_nic() {
        m.network_id = nic.networkid.clone();
        m.ip_address = nic.ipaddress.clone();
    }
    let keypair_managed = m.keypair.is_some() || (imported && m.keypairs.is_none());
    if keypair_managed && vm.keypair.is_some() {
        m.keypair = vm.keypair.clone();
    }
    // groups are read back in the attribute the configuration uses (as the
    // Go provider does), so groups changed behind Terraform's back show
    if m.affinity_group_ids.is_some() {
        m.affinity_group_ids = Some(vm.affinitygroup.iter().map(|g| g.id.clone()).collect());
    }
    if m.affinity_group_names.is_some() {
        m.affinity_group_names = Some(
            vm.affinitygroup
                .iter()
                .filter_map(|g| g.name.clone())
                .collect(),
        );
    }
    if m.security_group_ids.is_some() {
        m.security_group_ids = Some(vm.securitygroup.iter().map(|g| g.id.clone()).collect());
    }
    if m.security_group_names.is_some() {
        m.security_group_names = Some(
            vm.securitygroup
                .iter()
                .filter_map(|g| g.name.clone())
                .collect(),
        );
    }
    m.userdata_id = vm.userdataid.clone();
    m.tags = Some(tags_map(&vm.tags));
    if let Some(gib) = root_disk_gib {
        m.root_disk_size = Some(gib);
    }
    if m.disk_offering.is_none() {
        m.disk_offering = vm.diskofferingid.clone();
    }
    m.delete_protection = vm.deleteprotection.or(m.delete_protection).or(Some(false));
    // CloudStack answers `boottype` Uefi/Bios and the UEFI `bootmode` in lower case
    match vm.boottype.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("uefi") => {
            m.uefi = Some(true);
            m.boot_mode = match (m.boot_mode, vm.bootmode.as_deref()) {
                (Some(mine), Some(now)) if mine.eq_ignore_ascii_case(now) => Some(mine),
                (None, Some(now)) if now.eq_ignore_ascii_case("legacy") => None,
                (mine, None) => mine,
                (_, Some(now)) => Some(boot_mode_spelling(now)),
            };
        }
        Some(_) => {
            m.uefi = Some(false);
            m.boot_mode = None;
        }
        None => {}
    }
    m.start_vm = m.start_vm.or(Some(true));
    m.expunge = m.expunge.or(Some(false));
    m.uefi = m.uefi.or(Some(false));
    m
}

/// Size in GiB of the VM's ROOT volume (Go: `size >> 30`), read on every
/// refresh: when several reads of a `refresh` come together one listing of
/// the owner's ROOT volumes serves them all (see [`crate::refresh`]), else a
/// lookup by VM.
async fn root_disk_gib(c: &Client, vm: &VirtualMachine, refresh: bool) -> Option<i64> {
    let gib = |v: &Volume| v.size.map(|b| b >> 30);
    let project = vm.projectid.as_deref();
    let scope = format!("type=ROOT|projectid={}", project.unwrap_or_default());
    if refresh && c.refresh.busy::<Volume>(&scope) {
        let all = c
            .refresh
            .listing(&scope, || async {
                let mut p = Params::new().with("type", "ROOT").with("listall", "true");
                p.set_opt("projectid", project);
                bounded(c, c.timeout, c.api.list_volumes(&p)).await
            })
            .await;
        let mine = all.ok().and_then(|all| {
            let root = all
                .iter()
                .find(|v| v.virtualmachineid.as_deref() == Some(&vm.id));
            root.map(gib)
        });
        if let Some(size) = mine {
            return size;
        }
        // not in the listing (deployed since): ask by VM
    }
    let mut p = Params::new()
        .with("virtualmachineid", &vm.id)
        .with("type", "ROOT")
        .with("listall", "true");
    p.set_opt("projectid", project);
    match bounded(c, c.timeout, c.api.list_volumes(&p)).await {
        Ok(v) if v.len() == 1 => gib(&v[0]),
        _ => None,
    }
}

/// The VM for a refresh: from the shared listing when several reads come
/// together (see [`crate::refresh`]), else by id.
async fn read_vm(
    c: &Client,
    id: &str,
    in_project: bool,
) -> Result<Option<VirtualMachine>, OpError> {
    if !in_project && c.refresh.busy::<VirtualMachine>("") {
        let all = c
            .refresh
            .listing("", || async {
                let p = Params::new().with("listall", "true");
                bounded(c, c.timeout, c.api.list_virtual_machines(&p)).await
            })
            .await?;
        if let Some(vm) = all.iter().find(|v| v.id == id) {
            return Ok(Some(vm.clone()).filter(|v| !v.is_gone()));
        }
        // not in the listing: created since, or gone; ask by id
    }
    find_vm(c, id).await
}

/// The VM by id (also across projects when `project` is set), or `None`
/// when it is gone (expunged, or destroyed and waiting for expunge).
async fn find_vm(c: &Client, id: &str) -> Result<Option<VirtualMachine>, OpError> {
    let mut vm = bounded(c, c.timeout, c.api.get_virtual_machine(id)).await?;
    // like the Go provider: a VM not found may belong to a project (projectid=-1)
    if vm.is_none() {
        let p = Params::new()
            .with("id", id)
            .with("listall", "true")
            .with("projectid", "-1");
        vm = match bounded(c, c.timeout, c.api.list_virtual_machines(&p)).await {
            Ok(v) => v.into_iter().find(|v| v.id == id),
            Err(e) if e.is_not_found() => None,
            Err(OpError::Api(e)) if e.is_param_error() => None,
            Err(e) => return Err(e),
        };
    }
    Ok(vm.filter(|v| !v.is_gone()))
}

/// After a deploy that may have created the VM, finds it by name in the zone
/// (the client's one lookup). It only reads, so it is retried for up to two
/// minutes: giving up while the VM exists would leave it out of state for good.
async fn find_deployed(
    c: &Client,
    zone_id: &str,
    name: &str,
    project_id: Option<&str>,
) -> Option<VirtualMachine> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut pause = Duration::from_millis(200);
    loop {
        let lookup = c
            .api
            .find_virtual_machine_by_name(zone_id, name, project_id);
        match tokio::time::timeout_at(deadline, lookup).await {
            Ok(Ok(vm)) => return vm,
            Ok(Err(e)) if e.is_retryable() && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(name, error = %e, "looking the deployed VM up again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            _ => return None,
        }
    }
}

/// The attribute a deploy error is about, from words in CloudStack's text.
fn deploy_error_attr(e: &OpError) -> Option<&'static str> {
    attr_in_text(
        e,
        &[
            ("ipaddress", attr!(Model, ip_address)),
            ("ip address", attr!(Model, ip_address)),
            ("keypair", attr!(Model, keypair)),
            ("key pair", attr!(Model, keypair)),
            ("serviceoffering", attr!(Model, service_offering)),
            ("service offering", attr!(Model, service_offering)),
            ("template", attr!(Model, template)),
            ("security group", attr!(Model, security_group_ids)),
            ("securitygroup", attr!(Model, security_group_ids)),
            ("network", attr!(Model, network_id)),
            ("zone", attr!(Model, zone)),
            ("affinity", attr!(Model, affinity_group_ids)),
            ("boot", attr!(Model, boot_mode)),
            ("name", attr!(Model, name)),
        ],
    )
}

impl Instance {
    /// The `deployVirtualMachine` request for `plan` (names resolved to ids);
    /// `None` after an error naming the attribute.
    async fn deploy_request(
        &self,
        cx: &Ctx<'_>,
        plan: &Model,
        diags: &mut Diagnostics,
    ) -> Option<DeployVirtualMachine> {
        let c = cx.c;
        let Some(zone_name) = plan.zone.as_deref() else {
            diags.attribute_error(attr!(Model, zone), "zone is required", "");
            return None;
        };
        let zone = resolve_object(
            c,
            Kind::Zone,
            attr!(Model, zone),
            zone_name,
            &Params::new(),
            diags,
        )
        .await?;
        let zone_id = zone
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let advanced = zone
            .get("networktype")
            .and_then(|v| v.as_str())
            .is_none_or(|t| t.eq_ignore_ascii_case("advanced"));
        let in_zone = Params::new().with("zoneid", &zone_id);
        let so = plan.service_offering.as_deref().unwrap_or_default();
        let so = resolve(
            c,
            Kind::ServiceOffering,
            attr!(Model, service_offering),
            so,
            &in_zone,
            diags,
        )
        .await;
        let tpl = plan.template.as_deref().unwrap_or_default();
        let tpl = resolve(
            c,
            Kind::Template,
            attr!(Model, template),
            tpl,
            &in_zone,
            diags,
        )
        .await;
        let mut req = DeployVirtualMachine {
            zone_id,
            service_offering_id: so.unwrap_or_default(),
            template_id: tpl.unwrap_or_default(),
            name: plan.name.clone(),
            display_name: plan.display_name.clone().or_else(|| plan.name.clone()),
            keypair: plan.keypair.clone(),
            user_data: plan.user_data.as_deref().map(encode_user_data),
            ip_address: plan.ip_address.clone(),
            group: plan.group.clone(),
            start_vm: plan.start_vm,
            root_disk_size: plan.root_disk_size.map(|g| g.max(0) as u64),
            ..Default::default()
        };
        if advanced {
            req.network_ids = plan.network_id.iter().cloned().collect();
        }
        for (attr, value, param) in [
            (
                attr!(Model, disk_offering),
                &plan.disk_offering,
                "diskofferingid",
            ),
            (
                attr!(Model, override_disk_offering),
                &plan.override_disk_offering,
                "overridediskofferingid",
            ),
        ] {
            if let Some(v) = value {
                if let Some(id) =
                    resolve(c, Kind::DiskOffering, attr, v, &Params::new(), diags).await
                {
                    req.extra.set(param, id);
                }
            }
        }
        let project = cx.project_id(plan.project.as_deref(), diags).await.ok()?;
        req.extra.set_opt("projectid", project);
        if diags.has_errors() {
            return None;
        }
        for (value, param) in [
            (&plan.affinity_group_ids, "affinitygroupids"),
            (&plan.affinity_group_names, "affinitygroupnames"),
            (&plan.security_group_ids, "securitygroupids"),
            (&plan.security_group_names, "securitygroupnames"),
            (&plan.keypairs, "keypairs"),
        ] {
            req.extra
                .set_list(param, value.as_deref().unwrap_or_default());
        }
        for (value, param) in [
            (&plan.host_id, "hostid"),
            (&plan.pod_id, "podid"),
            (&plan.cluster_id, "clusterid"),
            (&plan.userdata_id, "userdataid"),
        ] {
            req.extra.set_opt(param, value.as_deref());
        }
        if plan.uefi == Some(true) {
            req.extra.set("boottype", "UEFI");
            req.extra
                .set("bootmode", plan.boot_mode.as_deref().unwrap_or("Legacy"));
        }
        map_params(&mut req.extra, "details", plan.details.as_ref(), false);
        map_params(&mut req.extra, "properties", plan.properties.as_ref(), true);
        map_params(
            &mut req.extra,
            "userdatadetails",
            plan.userdata_details.as_ref(),
            false,
        );
        if let Some(m) = &plan.nicnetworklist {
            for k in ["nic", "network"] {
                if let Some(v) = m.get(k) {
                    req.extra.set(format!("nicnetworklist[0].{k}"), v.as_str());
                }
            }
        }
        Some(req)
    }

    /// What a deploy that failed left: the VM CloudStack accepted (by the id
    /// it named, else by name) to keep tainted, or nothing. A VM whose start
    /// failed (e.g. no host left for an anti-affinity group) is in Error: it
    /// is expunged and the failure reported.
    #[allow(clippy::too_many_arguments)]
    async fn after_failed_deploy(
        &self,
        cx: &Ctx<'_>,
        api: &cloudstack::Client,
        limit: Duration,
        plan: &Model,
        req: &DeployVirtualMachine,
        e: OpError,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        let label = req.name.clone().unwrap_or_else(|| "(unnamed)".into());
        let action = format!("creating instance {label}");
        let failed_job = matches!(&e, OpError::Api(cloudstack::Error::JobFailed { .. }));
        let found = match (cx.accepted_id("deployVirtualMachine"), &req.name) {
            (Some(id), _) => match find_vm(c, &id).await {
                Ok(vm) => vm,
                Err(read_err) => {
                    tracing::warn!(%id, error = ?read_err, "cannot read the accepted VM back");
                    Some(VirtualMachine {
                        id,
                        name: req.name.clone(),
                        displayname: req.display_name.clone(),
                        ..Default::default()
                    })
                }
            },
            (None, Some(name)) if e.may_exist() || failed_job => {
                let project = req.extra.get("projectid");
                find_deployed(c, &req.zone_id, name, project).await
            }
            _ => None,
        };
        let Some(vm) = found else {
            diags.push(e.diagnostic(&action, deploy_error_attr(&e), "create"));
            return None;
        };
        if failed_job && vm.state.as_deref() == Some("Error") {
            let mut d = e.diagnostic(&action, deploy_error_attr(&e), "create");
            let expunged = api.destroy_virtual_machine(&vm.id, true);
            if let Err(cleanup) = bounded(c, limit, expunged).await {
                d.detail.push_str(&format!(
                    "\n\nThe failed VM {} (state Error) could not be expunged: {}. \
                     Destroy it with destroyVirtualMachine expunge=true.",
                    vm.id,
                    cleanup.diagnostic("expunging", None, "create").detail
                ));
            }
            diags.push(d);
            return None;
        }
        let want = if req.start_vm == Some(false) {
            "Stopped"
        } else {
            "Running"
        };
        let still_running_job = matches!(
            e,
            OpError::TimedOut(_)
                | OpError::Stopped
                | OpError::Api(cloudstack::Error::JobTimeout { .. })
        );
        if still_running_job || vm.state.as_deref() != Some(want) {
            // recorded as tainted: the next apply replaces it, never duplicates it
            let mut d = e.diagnostic(&action, None, "create");
            d.detail.push_str(&format!(
                "\n\nThe VM exists (id {}, state {}); Terraform keeps it in state as \
                 tainted, so no second VM is created. Raise `timeouts {{ create = ... }}` \
                 if jobs are slow.",
                vm.id,
                vm.state.as_deref().unwrap_or("?")
            ));
            diags.push(d);
            return Some(fill(plan.clone(), &vm, None));
        }
        // the first attempt finished: that VM is the result
        tracing::info!(id = %vm.id, "deploy outcome was unclear; found the VM by name");
        Some(self.finish_create(cx, api, limit, plan, vm, diags).await)
    }

    /// After the deploy: delete protection and tags, then the state.
    async fn finish_create(
        &self,
        cx: &Ctx<'_>,
        api: &cloudstack::Client,
        limit: Duration,
        plan: &Model,
        vm: VirtualMachine,
        diags: &mut Diagnostics,
    ) -> Model {
        let c = cx.c;
        learn_default_network(c, &vm);
        let mut problems = Vec::new();
        let mut vm = vm;
        if let Some(dp) = plan.delete_protection {
            let p = Params::new()
                .with("id", &vm.id)
                .with("deleteprotection", dp.to_string());
            if let Err(e) = bounded(c, limit, api.request_async("updateVirtualMachine", &p)).await {
                problems.push(e.diagnostic("setting delete_protection", None, "create"));
            } else {
                vm.deleteprotection = Some(dp);
            }
        }
        let tags = plan.tags.clone().unwrap_or_default();
        if !tags.is_empty() {
            if let Err(e) =
                update_tags(c, limit, TAG_TYPE, &vm.id, &Default::default(), &tags).await
            {
                problems.push(e.diagnostic(
                    "tagging the instance",
                    Some(attr!(Model, tags)),
                    "create",
                ));
            }
            vm = find_vm(c, &vm.id).await.ok().flatten().unwrap_or(vm);
        }
        let gib = match plan.root_disk_size {
            Some(g) => Some(g),
            None => root_disk_gib(c, &vm, false).await,
        };
        for p in problems {
            diags.push(p);
        }
        fill(plan.clone(), &vm, gib)
    }

    /// The changes made while the VM is stopped; false after an error.
    #[allow(clippy::too_many_arguments)]
    async fn stopped_changes(
        &self,
        c: &Client,
        api: &cloudstack::Client,
        limit: Duration,
        id: &str,
        prior: &Model,
        plan: &Model,
        ud_changed: bool,
        diags: &mut Diagnostics,
    ) -> bool {
        let mut upd = Params::new().with("id", id);
        if plan.name != prior.name {
            upd.set_opt("name", plan.name.as_deref());
        }
        if ud_changed {
            upd.set(
                "userdata",
                encode_user_data(plan.user_data.as_deref().unwrap_or("")),
            );
        }
        if plan.userdata_id != prior.userdata_id {
            upd.set_opt("userdataid", plan.userdata_id.as_deref());
        }
        if plan.userdata_details != prior.userdata_details {
            map_params(
                &mut upd,
                "userdatadetails",
                plan.userdata_details.as_ref(),
                false,
            );
        }
        if upd.iter().count() > 1 {
            let cmd = "updateVirtualMachine";
            let r = if upd.get("userdata").is_some() {
                bounded(c, limit, api.request_post(cmd, &upd)).await
            } else {
                bounded(c, limit, api.request_async(cmd, &upd)).await
            };
            if let Err(e) = r {
                diags.push(e.diagnostic(
                    &format!("updating instance {id}"),
                    Some(attr!(Model, name)),
                    "update",
                ));
                return false;
            }
        }
        // one job on the stopped VM; false after "changing the <what> of <id>"
        let job = async |cmd: &str, p: Params, what: &str, attr: &str, diags: &mut Diagnostics| {
            match bounded(c, limit, api.request_async(cmd, &p)).await {
                Ok(_) => true,
                Err(e) => {
                    let action = format!("changing the {what} of {id}");
                    diags.push(e.diagnostic(&action, Some(attr), "update"));
                    false
                }
            }
        };
        if plan.service_offering != prior.service_offering {
            let zone = plan.zone.as_deref().unwrap_or_default();
            let Some(zone_id) = resolve(
                c,
                Kind::Zone,
                attr!(Model, zone),
                zone,
                &Params::new(),
                diags,
            )
            .await
            else {
                return false;
            };
            let Some(so) = resolve(
                c,
                Kind::ServiceOffering,
                attr!(Model, service_offering),
                plan.service_offering.as_deref().unwrap_or_default(),
                &Params::new().with("zoneid", zone_id),
                diags,
            )
            .await
            else {
                return false;
            };
            let p = Params::new().with("id", id).with("serviceofferingid", so);
            let cmd = "changeServiceForVirtualMachine";
            if !job(
                cmd,
                p,
                "service offering",
                attr!(Model, service_offering),
                diags,
            )
            .await
            {
                return false;
            }
        }
        if plan.keypair != prior.keypair || plan.keypairs != prior.keypairs {
            let mut p = Params::new().with("id", id);
            p.set_opt("keypair", plan.keypair.as_deref());
            p.set_list("keypairs", plan.keypairs.as_deref().unwrap_or_default());
            let cmd = "resetSSHKeyForVirtualMachine";
            if p.iter().count() > 1 && !job(cmd, p, "key pair", attr!(Model, keypair), diags).await
            {
                return false;
            }
        }
        if !same_set(&plan.affinity_group_ids, &prior.affinity_group_ids)
            || !same_set(&plan.affinity_group_names, &prior.affinity_group_names)
        {
            let mut p = Params::new().with("id", id);
            let ids = plan.affinity_group_ids.as_deref().unwrap_or_default();
            p.set_list("affinitygroupids", ids);
            let names = plan.affinity_group_names.as_deref().unwrap_or_default();
            p.set_list("affinitygroupnames", names);
            let (what, attr) = ("affinity groups", attr!(Model, affinity_group_ids));
            if !job("updateVMAffinityGroup", p, what, attr, diags).await {
                return false;
            }
        }
        true
    }
}

#[async_trait]
impl TypedResource for Instance {
    type Model = Model;
    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_instance"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("deployVirtualMachine")
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        const BOOT_MODE: &str = attr!(Model, boot_mode);
        if !config.boot_mode.is_null() && config.uefi.known() != Some(&true) {
            if config.uefi.is_unknown() {
                return;
            }
            diags.attribute_error(
                BOOT_MODE,
                "boot_mode needs uefi = true",
                "Set uefi = true, or remove boot_mode.",
            );
        }
        if let Some(m) = config.boot_mode.known() {
            if !m.eq_ignore_ascii_case("secure") && !m.eq_ignore_ascii_case("legacy") {
                diags.attribute_error(
                    BOOT_MODE,
                    "Invalid boot_mode",
                    "Use \"Secure\" or \"Legacy\".",
                );
            }
        }
        for ((a, a_set), (b, b_set)) in [
            (
                (attr!(Model, keypair), !config.keypair.is_null()),
                (attr!(Model, keypairs), !config.keypairs.is_null()),
            ),
            (
                (
                    attr!(Model, affinity_group_ids),
                    !config.affinity_group_ids.is_null(),
                ),
                (
                    attr!(Model, affinity_group_names),
                    !config.affinity_group_names.is_null(),
                ),
            ),
            (
                (
                    attr!(Model, security_group_ids),
                    !config.security_group_ids.is_null(),
                ),
                (
                    attr!(Model, security_group_names),
                    !config.security_group_names.is_null(),
                ),
            ),
        ] {
            if a_set && b_set {
                diags.attribute_error(
                    b,
                    format!("\"{b}\" conflicts with \"{a}\""),
                    "Set only one of them.",
                );
            }
        }
        if let Some(n) = config.root_disk_size.known() {
            if *n <= 0 {
                diags.attribute_error(
                    attr!(Model, root_disk_size),
                    "root_disk_size must be positive",
                    "In GiB.",
                );
            }
        }
    }

    /// Checks zone, template and service offering names before anything is
    /// changed, listing what exists when a name is unknown.
    async fn modify_plan(&self, plan: &mut Planning<'_, View>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        let creating = plan.creating();
        let (prior, planned, config) = (plan.prior.as_ref(), &plan.planned, &plan.config);
        let zone_changed = creating || prior.is_none_or(|p| p.zone != planned.zone);
        let template_changed = creating || prior.is_none_or(|p| p.template != planned.template);
        let offering_changed =
            creating || prior.is_none_or(|p| p.service_offering != planned.service_offering);
        let Some(zone) = config.zone.non_empty() else {
            return;
        };
        if !(zone_changed || template_changed || offering_changed) {
            return;
        }
        let Some(zone_id) = resolve(
            c,
            Kind::Zone,
            attr!(Model, zone),
            zone,
            &Params::new(),
            diags,
        )
        .await
        else {
            return;
        };
        let scope = Params::new().with("zoneid", zone_id);
        if template_changed {
            if let Some(t) = config.template.non_empty() {
                resolve(c, Kind::Template, attr!(Model, template), t, &scope, diags).await;
            }
        }
        if offering_changed {
            if let Some(s) = config.service_offering.non_empty() {
                let attr = attr!(Model, service_offering);
                resolve(c, Kind::ServiceOffering, attr, s, &scope, diags).await;
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        c.refresh.clear();
        let limit = cx.limit("create", diags);
        let req = self.deploy_request(&cx, &plan, diags).await?;
        let api = c.api_with_timeout(limit);
        match bounded(c, limit, api.deploy_virtual_machine(&req)).await {
            Ok(vm) => Some(self.finish_create(&cx, &api, limit, &plan, vm, diags).await),
            Err(e) => {
                self.after_failed_deploy(&cx, &api, limit, &plan, &req, e, diags)
                    .await
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let id = state.id.clone()?;
        let vm = read_vm(c, &id, state.project.is_some()).await;
        let vm = found(vm, "instance", &id, "read", diags)?;
        // read every time (like the Go provider), so a root disk resized outside shows
        let gib = root_disk_gib(c, &vm, true).await.or(state.root_disk_size);
        Some(fill(state, &vm, gib))
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        c.refresh.clear();
        let limit = cx.limit("update", diags);
        let api = c.api_with_timeout(limit);
        let id = prior.id.clone()?;
        let fail = |diags: &mut Diagnostics, e: OpError, what: &str, attr: Option<&str>| {
            diags.push(e.diagnostic(&format!("updating instance {id}: {what}"), attr, "update"));
        };

        // in place, no restart
        let mut quick = Params::new().with("id", &id);
        if plan.display_name != prior.display_name {
            quick.set("displayname", plan.display_name.as_deref().unwrap_or(""));
        }
        if plan.group != prior.group {
            quick.set("group", plan.group.as_deref().unwrap_or(""));
        }
        if plan.delete_protection != prior.delete_protection {
            if let Some(dp) = plan.delete_protection {
                quick.set("deleteprotection", dp.to_string());
            }
        }
        if plan.details != prior.details {
            map_params(&mut quick, "details", plan.details.as_ref(), false);
        }
        if quick.iter().count() > 1 {
            if let Err(e) =
                bounded(c, limit, api.request_async("updateVirtualMachine", &quick)).await
            {
                fail(
                    diags,
                    e,
                    "display_name/group/details/delete_protection",
                    None,
                );
                return None;
            }
        }
        if !cx
            .update_tags(TAG_TYPE, &id, limit, &prior.tags, &plan.tags, diags)
            .await
        {
            return None;
        }

        // changes that need the VM stopped; a prior state of the Go provider
        // holds the user data's SHA1, which is no change
        let ud_changed = plan.user_data != prior.user_data
            && !(plan.user_data.is_some()
                && prior.user_data == plan.user_data.as_deref().map(sha1_hex));
        let restart = plan.name != prior.name
            || plan.service_offering != prior.service_offering
            || plan.keypair != prior.keypair
            || plan.keypairs != prior.keypairs
            || ud_changed
            || plan.userdata_id != prior.userdata_id
            || plan.userdata_details != prior.userdata_details
            || !same_set(&plan.affinity_group_ids, &prior.affinity_group_ids)
            || !same_set(&plan.affinity_group_names, &prior.affinity_group_names);
        if restart {
            let before = match find_vm(c, &id).await {
                Ok(Some(vm)) => vm,
                Ok(None) => {
                    diags.error(
                        format!("Instance {id} no longer exists"),
                        "It was deleted outside Terraform; run `terraform apply` again to recreate it.",
                    );
                    return None;
                }
                Err(e) => {
                    fail(diags, e, "reading the VM", None);
                    return None;
                }
            };
            let was_running = before.state.as_deref() == Some("Running");
            if was_running {
                if let Err(e) = bounded(c, limit, api.stop_virtual_machine(&id, false)).await {
                    fail(diags, e, "stopping the VM", None);
                    return None;
                }
            }
            let mut result = self
                .stopped_changes(c, &api, limit, &id, &prior, &plan, ud_changed, diags)
                .await;
            if was_running {
                if let Err(e) = bounded(c, limit, api.start_virtual_machine(&id)).await {
                    fail(diags, e, "starting the VM again", None);
                    result = false;
                }
            }
            if !result {
                return None;
            }
        }
        match find_vm(c, &id).await {
            Ok(Some(vm)) => {
                let gib = prior.root_disk_size;
                Some(fill(plan, &vm, gib))
            }
            Ok(None) => None,
            Err(e) => {
                fail(diags, e, "reading the VM back", None);
                None
            }
        }
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let c = cx.c;
        let Some(id) = prior.id.as_deref() else {
            return;
        };
        c.refresh.clear();
        let limit = cx.limit("delete", diags);
        let expunge = prior.expunge.unwrap_or(false);
        let api = c.api_with_timeout(limit);
        deleted(
            bounded(c, limit, api.destroy_virtual_machine(id, expunge)).await,
            &format!("destroying instance {id}"),
            diags,
        );
    }

    /// `terraform import cloudstack_instance.x <id>` or `<project>/<id>`.
    fn import(&self, id: &str) -> Vec<Value> {
        import_state(
            id,
            &[
                (attr!(Model, start_vm), true.into()),
                (attr!(Model, expunge), false.into()),
                (attr!(Model, uefi), false.into()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::Typed;
    use tfplugin5::PlanRequest;
    use tfplugin5::Resource;

    #[test]
    fn user_data_is_base64_once() {
        assert_eq!(encode_user_data("#cloud-config\n"), "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(
            encode_user_data("I2Nsb3VkLWNvbmZpZwo="),
            "I2Nsb3VkLWNvbmZpZwo="
        );
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn state_keeps_names_and_fills_computed() {
        let planned = Model {
            zone: Some("zone001".into()),
            template: Some("936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5".into()),
            service_offering: Some("t1.small".into()),
            keypair: Some("k1".into()),
            project: Some("ops".into()),
            boot_mode: Some("secure".into()),
            ..Default::default()
        };
        let vm: VirtualMachine = serde_json::from_value(serde_json::json!({
            "id": "v1", "name": "m-0", "zoneid": "z", "zonename": "zone001",
            "templateid": "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5", "templatename": "Ubuntu 14.04",
            "serviceofferingid": "s", "serviceofferingname": "t1.small", "keypair": "k2",
            "projectid": "p1", "project": "ops", "deleteprotection": true,
            "boottype": "Uefi", "bootmode": "secure", "userdataid": "u1",
            "securitygroup": [{"id": "sg1", "name": "web"}],
            "nic": [{"id": "n", "networkid": "net", "ipaddress": "10.1.1.5", "isdefault": true}]
        }))
        .unwrap();
        let planned = Model {
            security_group_names: Some(vec!["db".into()]),
            ..planned
        };
        let s = fill(planned, &vm, Some(10));
        assert_eq!(s.zone.as_deref(), Some("zone001"));
        assert_eq!(
            s.template.as_deref(),
            Some("936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5")
        );
        assert_eq!(s.ip_address.as_deref(), Some("10.1.1.5"));
        assert_eq!(s.network_id.as_deref(), Some("net"));
        assert_eq!(s.root_disk_size, Some(10));
        assert_eq!(
            s.keypair.as_deref(),
            Some("k2"),
            "drift of the key pair shows"
        );
        assert_eq!(
            s.project.as_deref(),
            Some("ops"),
            "the user's spelling stays"
        );
        assert_eq!(s.security_group_names, Some(vec!["web".to_string()]));
        assert_eq!(s.security_group_ids, None, "only the attribute in use");
        assert_eq!(s.delete_protection, Some(true));
        assert_eq!(
            (s.uefi, s.boot_mode.as_deref()),
            (Some(true), Some("secure"))
        );
        assert_eq!(s.userdata_id.as_deref(), Some("u1"));
        assert_eq!(s.start_vm, Some(true));
        // a VM moved out of UEFI, or out of its project, shows as drift
        let mut bios = vm.clone();
        bios.boottype = Some("Bios".into());
        bios.projectid = None;
        let s = fill(s, &bios, Some(10));
        assert_eq!((s.uefi, s.boot_mode.as_deref()), (Some(false), None));
        assert_eq!(s.project, None);
    }

    use crate::common::testenv::{self, NETWORK_ID};
    use tfplugin5::AttributePath;

    /// A plan for a new instance, computed attributes unknown (as the
    /// framework's generic plan leaves them).
    fn planned(name: &str, extra: &[(&str, Value)]) -> Value {
        let mut v = Value::object([
            ("name", Value::from(name)),
            ("zone", "zone001".into()),
            ("template", "Ubuntu 14.04".into()),
            ("service_offering", "t1.small".into()),
            ("network_id", NETWORK_ID.into()),
            ("expunge", true.into()),
            ("start_vm", true.into()),
            ("uefi", false.into()),
        ]);
        for a in [
            "id",
            "display_name",
            "ip_address",
            "root_disk_size",
            "group",
            "project",
            "disk_offering",
            "override_disk_offering",
            "delete_protection",
            "tags",
        ] {
            v.set_attr(a, Value::Unknown);
        }
        for (k, x) in extra {
            v.set_attr(k, x.clone());
        }
        v
    }

    #[tokio::test]
    async fn create_read_update_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let tags = Value::Map(
            [("role".to_string(), Value::from("master"))]
                .into_iter()
                .collect(),
        );
        let state = r
            .create(c, &planned("t-0", &[("tags", tags.clone())]), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_str("zone"), Some("zone001"));
        assert_eq!(state.get_str("template"), Some("Ubuntu 14.04"));
        assert_eq!(state.get_str("display_name"), Some("t-0"));
        assert_eq!(state.get("tags"), &tags);
        assert!(state.get_str("ip_address").unwrap().starts_with("10.1.1."));
        let id = state.get_str("id").unwrap().to_string();

        let read = r.read(c, &state, &mut d).await;
        assert_eq!(read, state, "read of an unchanged VM changes nothing");

        // in place: display name, tags; offering, key pair and name with
        // one stop/start around them
        c.api.create_ssh_key_pair("kp").await.unwrap();
        let mut next = state.clone();
        next.set_attr("display_name", "first");
        next.set_attr("service_offering", "t1.medium");
        next.set_attr("keypair", "kp");
        next.set_attr("name", "t-1");
        next.set_attr("tags", Value::Map(Default::default()));
        let updated = r.update(c, &state, &next, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("id"), Some(id.as_str()));
        assert_eq!(updated.get_str("service_offering"), Some("t1.medium"));
        let w = env.sim.world();
        let vm = w.virtual_machines.iter().find(|v| v.id == id).unwrap();
        assert_eq!(vm.displayname, "first");
        assert_eq!(vm.name, "t-1");
        assert_eq!(vm.keypair.as_deref(), Some("kp"));
        assert_eq!(updated.get_str("keypair"), Some("kp"));
        assert_eq!(vm.state, "Running", "started again after the change");
        assert!(w.tags.iter().all(|t| t.resourceid != id));
        assert_eq!(env.sim.stats()["requests"]["stopVirtualMachine"], 1);

        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(env.sim.world().virtual_machines.iter().all(|v| v.id != id));
        assert!(r.read(c, &updated, &mut d).await.is_null(), "gone → null");
        // deleting what is gone is fine
        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
    }

    #[tokio::test]
    async fn deploy_outliving_its_timeout_keeps_the_id() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency.apply("deployVirtualMachine=2500").unwrap();
        let env = testenv::start(opts).await;
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let p = planned("slow-0", &[("timeouts", Value::object([("create", "1s")]))]);
        let state = r.create(&env.client, &p, &mut d).await;
        assert!(d.has_errors(), "the timeout is reported");
        assert!(d.0[0].detail.contains("tainted"), "{d:?}");
        let id = state.get_str("id").expect("the id is kept").to_string();
        let vms: Vec<_> = env
            .sim
            .world()
            .virtual_machines
            .into_iter()
            .filter(|v| v.name == "slow-0")
            .collect();
        assert_eq!(vms.len(), 1);
        assert_eq!(vms[0].id, id);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let mut d = Diagnostics::default();
        let read = r.read(&env.client, &state, &mut d).await;
        assert_eq!(read.get_str("id"), Some(id.as_str()));
    }

    #[tokio::test]
    async fn unknown_list_elements_do_not_stop_the_checks() {
        let r = Typed(Instance::new(Handle::default()));
        let config = Value::object([
            ("boot_mode", Value::from("Secure")),
            ("uefi", Value::from(false)),
            ("security_group_ids", Value::Set(vec![Value::Unknown])),
            ("keypairs", Value::List(vec![Value::Unknown])),
        ]);
        let mut d = Diagnostics::default();
        r.validate(&config, &mut d).await;
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(d.0[0].summary, "boot_mode needs uefi = true");
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("boot_mode")));
    }

    #[tokio::test]
    async fn unknown_names_fail_at_plan_with_candidates() {
        let env = testenv::start(Default::default()).await;
        let handle = Handle::default();
        handle.set(env.client.clone()).unwrap();
        let r = Typed(Instance::new(handle));
        for (attr, bad, expect) in [
            (
                "zone",
                "zone01",
                "no zone named \"zone01\"; available: zone001",
            ),
            ("template", "Ubuntu 14.4", "Ubuntu 14.04"),
            ("service_offering", "t1.huge", "t1.medium, t1.small"),
        ] {
            let config = planned("p-0", &[(attr, Value::from(bad))]);
            let mut plan = config.clone();
            let mut rr = Vec::new();
            let mut d = Diagnostics::default();
            r.modify_plan(
                PlanRequest {
                    prior: &Value::Null,
                    config: &config,
                    planned: &mut plan,
                    requires_replace: &mut rr,
                },
                &mut d,
            )
            .await;
            assert_eq!(d.0.len(), 1, "{d:?}");
            assert_eq!(d.0[0].attribute, Some(AttributePath::attr(attr)));
            assert!(d.0[0].detail.contains(expect), "{}", d.0[0].detail);
        }
        assert_eq!(testenv::mutations(&env.sim), 0);
    }

    #[tokio::test]
    async fn faults_never_duplicate_a_vm() {
        let opts = cloudstack_sim::Options {
            fault_rate: 0.3,
            fault_seed: 7,
            ..Default::default()
        };
        let env = testenv::start(opts).await;
        let r = Typed(Instance::new(Handle::default()));
        let names: Vec<String> = (0..6).map(|i| format!("f-{i}")).collect();
        let runs = names.iter().map(|n| {
            let (r, c) = (&r, &env.client);
            async move {
                // like repeated `terraform apply`: try again until recorded
                for _ in 0..5 {
                    let mut d = Diagnostics::default();
                    let s = r.create(c, &planned(n, &[]), &mut d).await;
                    if let Some(id) = s.get_str("id") {
                        return id.to_string();
                    }
                }
                panic!("{n} never created");
            }
        });
        let ids = futures::future::join_all(runs).await;
        let w = env.sim.world();
        for (n, id) in names.iter().zip(&ids) {
            let same: Vec<_> = w.virtual_machines.iter().filter(|v| &v.name == n).collect();
            assert_eq!(same.len(), 1, "{n}: {same:?}");
            assert_eq!(&same[0].id, id);
        }
        assert!(env.sim.stats()["faults"].as_u64().unwrap() > 0);
    }

    /// Ctrl-C while `deployVirtualMachine`'s job runs: CloudStack accepted it, so the VM is
    /// kept in state (tainted) instead of being orphaned.
    #[tokio::test]
    async fn an_accepted_deploy_interrupted_is_kept_tainted() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency
            .per_command
            .insert("deployvirtualmachine".into(), Duration::from_secs(30));
        let env = testenv::start(opts).await;
        let c = testenv::stopped_after(&env, Duration::from_millis(500));
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let state = r.create(&c, &planned("stopped-0", &[]), &mut d).await;
        let held: Vec<String> = env
            .sim
            .world()
            .virtual_machines
            .iter()
            .map(|v| v.id.clone())
            .collect();
        testenv::assert_kept_tainted(&state, &d, &held);
    }

    /// Boot mode, delete protection and the root disk are read back, so changes made
    /// outside Terraform show; a protected VM is not destroyed until protection is lifted.
    #[tokio::test]
    async fn boot_mode_protection_and_root_disk_are_read_back() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let p = planned(
            "uefi-0",
            &[("uefi", true.into()), ("boot_mode", "Secure".into())],
        );
        let state = r.create(c, &p, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(state.get_bool("uefi"), Some(true));
        assert_eq!(state.get_str("boot_mode"), Some("Secure"));
        assert_eq!(state.get_bool("delete_protection"), Some(false));
        let id = state.get_str("id").unwrap().to_string();
        assert_eq!(r.read(c, &state, &mut d).await, state, "no drift");

        // protected and its root disk grown behind Terraform's back
        let protect = Params::new()
            .with("id", &id)
            .with("deleteprotection", "true");
        c.api
            .request_async("updateVirtualMachine", &protect)
            .await
            .unwrap();
        let root = c
            .api
            .list_volumes(
                &Params::new()
                    .with("virtualmachineid", &id)
                    .with("type", "ROOT"),
            )
            .await
            .unwrap();
        let grow = Params::new().with("id", &root[0].id).with("size", "50");
        c.api.request_async("resizeVolume", &grow).await.unwrap();
        let read = r.read(c, &state, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(read.get_bool("delete_protection"), Some(true));
        assert_eq!(read.get_i64("root_disk_size"), Some(50));

        r.delete(c, &read, &mut d).await;
        assert!(d.has_errors(), "a protected VM is not destroyed");
        assert!(d.0[0].detail.contains("delete protection"), "{d:?}");
        let mut d = Diagnostics::default();
        let mut unprotected = read.clone();
        unprotected.set_attr("delete_protection", false);
        let updated = r.update(c, &read, &unprotected, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_bool("delete_protection"), Some(false));
        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
    }

    /// A VM deployed in a project reads its project back in the user's spelling, and
    /// `terraform import <project>/<id>` yields the same state.
    #[tokio::test]
    async fn a_project_vm_reads_back_and_imports() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        c.api
            .create_project("mesos", "Mesos", &Params::new())
            .await
            .unwrap();
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let state = r
            .create(c, &planned("p-0", &[("project", "mesos".into())]), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(state.get_str("project"), Some("mesos"));
        let id = state.get_str("id").unwrap().to_string();
        let vm = env
            .sim
            .world()
            .virtual_machines
            .into_iter()
            .find(|v| v.id == id);
        assert!(vm.unwrap().projectid.is_some(), "deployed in the project");
        assert_eq!(r.read(c, &state, &mut d).await, state, "no drift");

        let imported = r.import(c, &format!("mesos/{id}"), &mut d).await.remove(0);
        let read = r.read(c, &imported, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        for a in ["project", "name", "zone", "root_disk_size", "ip_address"] {
            assert_eq!(read.get(a), state.get(a), "{a}");
        }
    }

    /// A flaky proxy garbles answers (truncated JSON, HTML with status 200) and the client
    /// gets no retries, so garbage outlasts them: whatever was deployed is either the
    /// result or recorded (tainted) in state, never left behind. (The seed picks which
    /// requests fail; with the async-job watcher's request order, seed 1 garbles a deploy
    /// answer while its VM is still starting, so the tainted path is exercised.)
    #[tokio::test]
    async fn garbled_answers_never_orphan_a_vm() {
        let mut opts = cloudstack_sim::Options {
            fault_rate: 0.3,
            fault_seed: 1,
            fault_kinds: cloudstack_sim::faults::Fault::parse_list("truncated_after,html_after")
                .unwrap(),
            ..Default::default()
        };
        // deploys still running when their polls fail: recovered VMs are not Running yet
        opts.job_latency.apply("deployVirtualMachine=150").unwrap();
        let env = testenv::start(opts).await;
        let mut cfg = env.client.api.config().clone();
        cfg.retry.max_attempts = 1;
        cfg.poll_initial = Duration::from_millis(50);
        let c = Client::new(
            cloudstack::Client::new(cfg).unwrap(),
            tfplugin5::CancellationToken::new(),
        );
        let r = Typed(Instance::new(Handle::default()));
        let (mut tainted, mut kept) = (0, Vec::new());
        for i in 0..5 {
            let name = format!("g-{i}");
            // like repeated `terraform apply`: a tainted VM is destroyed, then replaced
            let mut to_destroy: Option<Value> = None;
            let mut id = None;
            for _ in 0..60 {
                if let Some(s) = to_destroy.take() {
                    let mut d = Diagnostics::default();
                    r.delete(&c, &s, &mut d).await;
                    if d.has_errors() {
                        to_destroy = Some(s);
                        continue;
                    }
                }
                let mut d = Diagnostics::default();
                let s = r.create(&c, &planned(&name, &[]), &mut d).await;
                match (s.get_str("id"), d.has_errors()) {
                    (Some(done), false) => {
                        id = Some(done.to_string());
                        break;
                    }
                    (Some(_), true) => {
                        tainted += 1;
                        to_destroy = Some(s);
                    }
                    (None, _) => assert!(d.has_errors(), "no state and no error"),
                }
            }
            let id = id.unwrap_or_else(|| panic!("{name} never created"));
            kept.push((name, id));
        }
        let mut live: Vec<(String, String)> = env
            .sim
            .world()
            .virtual_machines
            .into_iter()
            .filter(|v| !matches!(v.state.as_str(), "Destroyed" | "Expunging" | "Expunged"))
            .map(|v| (v.name, v.id))
            .collect();
        live.sort();
        kept.sort();
        assert_eq!(live, kept, "exactly the planned VMs, nothing orphaned");
        let stats = env.sim.stats();
        let kinds = stats["fault_kinds"].as_object().unwrap();
        assert!(kinds.contains_key("truncated_after") && kinds.contains_key("html_after"));
        // Job results now come from the client's watcher (listAsyncJobs), a read that is
        // retried when garbled, so how many creates end tainted depends on which answers the
        // faults hit; what may never vary is that exactly the planned VMs remain (above).
        assert!(
            stats["faults"].as_u64().unwrap_or(0) > 0,
            "no fault injected: {stats}"
        );
        eprintln!("{tainted} creates recorded as tainted and replaced");
    }

    #[tokio::test]
    async fn deploy_errors_point_at_the_attribute() {
        let env = testenv::start(Default::default()).await;
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let s = r
            .create(
                &env.client,
                &planned("bad-ip", &[("ip_address", Value::from("10.9.9.9"))]),
                &mut d,
            )
            .await;
        assert!(s.is_null());
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(
            d.0[0].attribute,
            Some(AttributePath::attr("ip_address")),
            "{d:?}"
        );
        assert!(env
            .sim
            .world()
            .virtual_machines
            .iter()
            .all(|v| v.name != "bad-ip"));
    }

    #[tokio::test]
    async fn go_provider_user_data_hash_updates_nothing() {
        let env = testenv::start(Default::default()).await;
        let r = Typed(Instance::new(Handle::default()));
        let mut d = Diagnostics::default();
        let ud = "#cloud-config\npackages: [zookeeper]\n";
        let state = r
            .create(
                &env.client,
                &planned("ud-0", &[("user_data", ud.into())]),
                &mut d,
            )
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(state.get_str("user_data"), Some(ud));
        // state written by the Go provider holds the SHA1 of the user data
        let mut go_state = state.clone();
        go_state.set_attr("user_data", sha1_hex(ud));
        let updated = r.update(&env.client, &go_state, &state, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("user_data"), Some(ud));
        assert!(env.sim.stats()["requests"]["stopVirtualMachine"].is_null());
        // a real change stops, updates and starts the VM
        let mut next = state.clone();
        next.set_attr("user_data", "#cloud-config\n");
        r.update(&env.client, &state, &next, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(env.sim.stats()["requests"]["stopVirtualMachine"], 1);
        assert_eq!(env.sim.stats()["requests"]["startVirtualMachine"], 1);
    }

    #[tokio::test]
    async fn a_refresh_of_many_vms_lists_once() {
        let env = testenv::start(Default::default()).await;
        let r = Typed(Instance::new(Handle::default()));
        let mut states = Vec::new();
        for i in 0..5 {
            let mut d = Diagnostics::default();
            states.push(
                r.create(&env.client, &planned(&format!("r-{i}"), &[]), &mut d)
                    .await,
            );
            assert!(!d.has_errors(), "{d:?}");
        }
        // one VM disappears behind Terraform's back
        let gone_id = states[4].get_str("id").unwrap().to_string();
        env.client
            .api
            .destroy_virtual_machine(&gone_id, true)
            .await
            .unwrap();
        let lists = |env: &testenv::Env| {
            env.sim.stats()["requests"]["listVirtualMachines"]
                .as_u64()
                .unwrap_or(0)
        };
        let before = lists(&env);
        let volumes_before = env.sim.stats()["requests"]["listVolumes"]
            .as_u64()
            .unwrap_or(0);
        let reads = states.iter().map(|s| {
            let (r, c) = (&r, &env.client);
            async move {
                let mut d = Diagnostics::default();
                let v = r.read(c, s, &mut d).await;
                assert!(!d.has_errors(), "{d:?}");
                v
            }
        });
        let read = futures::future::join_all(reads).await;
        for (s, v) in states.iter().zip(&read).take(4) {
            assert_eq!(s, v);
        }
        assert!(read[4].is_null(), "the destroyed VM is gone");
        // first read by id, then one listing; the missing VM is looked up by
        // id and across projects (like the Go provider): 4 calls for 5 reads,
        // and still 4 for 200
        let used = lists(&env) - before;
        assert!(used <= 4, "{used} list calls");
        // the root disks (read on every refresh) also come from one listing
        let volume_lists = env.sim.stats()["requests"]["listVolumes"]
            .as_u64()
            .unwrap_or(0)
            - volumes_before;
        assert!(volume_lists <= 3, "{volume_lists} listVolumes calls");
    }
}
