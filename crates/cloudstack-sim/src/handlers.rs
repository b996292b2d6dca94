//! Command dispatch: one table from command name to handler, and the helpers every
//! handler shares (list paging, id checks, async job creation).

mod address;
mod affinity_group;
mod job;
mod load_balancer;
mod network;
mod network_acl;
pub(crate) mod nic;
mod offering;
mod project;
mod rules;
pub(crate) mod security_group;
mod ssh_keypair;
mod static_nat;
mod tags;
mod template;
mod user_data;
mod virtual_machine;
mod volume;
pub(crate) mod vpc;
mod zone;

pub use project::Project;
pub use security_group::{SecurityGroup, SecurityGroupRule};
pub use ssh_keypair::generate_key;
pub use user_data::UserData;

use crate::config::Options;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::{new_id, timestamp, AsyncJob, JobAction, World};
use serde_json::{json, Value};

/// A freshly generated key pair handed to createSSHKeyPair (made outside the state lock,
/// since RSA generation is slow).
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// PKCS#1 PEM private key.
    pub private_pem: String,
    /// OpenSSH public key line.
    pub public_openssh: String,
}

/// What a handler may touch while the state lock is held.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The world.
    pub world: &'a mut World,
    /// Options (IP range, ...).
    pub options: &'a Options,
    /// Set when the world changed and must be saved.
    pub changed: bool,
    /// Jobs created by this request.
    pub new_jobs: Vec<String>,
    /// Pre-generated key for createSSHKeyPair.
    pub generated_key: Option<GeneratedKey>,
}

impl Ctx<'_> {
    /// Records an async job and returns its id (finished later by [`crate::jobs`]).
    pub fn job(
        &mut self,
        cmd_class: &str,
        instance_type: Option<&str>,
        instance_id: Option<&str>,
        action: JobAction,
    ) -> String {
        let jobid = new_id();
        self.world.jobs.push(AsyncJob {
            jobid: jobid.clone(),
            cmd: cmd_class.to_string(),
            jobstatus: 0,
            jobresultcode: 0,
            jobresult: None,
            jobinstancetype: instance_type.map(str::to_string),
            jobinstanceid: instance_id.map(str::to_string),
            created: timestamp(),
            completed: None,
            action: Some(action),
        });
        self.new_jobs.push(jobid.clone());
        self.changed = true;
        jobid
    }

    /// Creates a job and answers `{"jobid", "id"}` like CloudStack's async commands.
    pub fn async_answer(
        &mut self,
        cmd_class: &str,
        instance_type: &str,
        id: &str,
        action: JobAction,
    ) -> Value {
        let jobid = self.job(cmd_class, Some(instance_type), Some(id), action);
        json!({"jobid": jobid, "id": id})
    }
}

/// A command implementation.
pub type Handler = fn(&mut Ctx<'_>, &Params) -> Result<Value, ApiError>;

/// The handler for a command (lower-cased name), or `None` if the command is unknown.
pub fn lookup(command: &str) -> Option<Handler> {
    let h: Handler = match command {
        "createaffinitygroup" => affinity_group::create,
        "deleteaffinitygroup" => affinity_group::delete,
        "listaffinitygroups" => affinity_group::list,
        "listaffinitygrouptypes" => affinity_group::list_types,
        "updatevmaffinitygroup" => affinity_group::update_vm,
        "deleteuserdata" => user_data::delete,
        "listuserdata" => user_data::list,
        "registeruserdata" => user_data::register,
        "authorizesecuritygroupegress" => security_group::authorize_egress,
        "authorizesecuritygroupingress" => security_group::authorize_ingress,
        "createsecuritygroup" => security_group::create,
        "deletesecuritygroup" => security_group::delete,
        "listsecuritygroups" => security_group::list,
        "revokesecuritygroupegress" => security_group::revoke_egress,
        "revokesecuritygroupingress" => security_group::revoke_ingress,
        "createproject" => project::create,
        "deleteproject" => project::delete,
        "listprojects" => project::list,
        "updateproject" => project::update,
        "listzones" => zone::list_zones,
        "listostypes" => zone::list_os_types,
        "listoscategories" => zone::list_os_categories,
        "listcapabilities" => zone::list_capabilities,
        "listregions" => zone::list_regions,
        "listdomains" => zone::list_domains,
        "listhypervisors" => zone::list_hypervisors,
        "listserviceofferings" => offering::list_service_offerings,
        "listdiskofferings" => offering::list_disk_offerings,
        "listnetworkofferings" => offering::list_network_offerings,
        "listtemplates" => template::list_templates,
        "listisos" => template::list_isos,
        "createtemplate" => template::create_template,
        "registertemplate" => template::register_template,
        "updatetemplate" => template::update_template,
        "updatetemplatepermissions" => template::update_template_permissions,
        "deletetemplate" => template::delete_template,
        "attachvolume" => volume::attach,
        "createvolume" => volume::create,
        "deletevolume" => volume::delete,
        "detachvolume" => volume::detach,
        "listvolumes" => virtual_machine::list_volumes,
        "resizevolume" => volume::resize,
        "updatevolume" => volume::update,
        "listvirtualmachines" => virtual_machine::list_virtual_machines,
        "deployvirtualmachine" => virtual_machine::deploy,
        "startvirtualmachine" => virtual_machine::start,
        "stopvirtualmachine" => virtual_machine::stop,
        "rebootvirtualmachine" => virtual_machine::reboot,
        "destroyvirtualmachine" => virtual_machine::destroy,
        "expungevirtualmachine" => virtual_machine::expunge,
        "recovervirtualmachine" => virtual_machine::recover,
        "updatevirtualmachine" => virtual_machine::update,
        "attachiso" => virtual_machine::attach_iso,
        "detachiso" => virtual_machine::detach_iso,
        "resetsshkeyforvirtualmachine" => virtual_machine::reset_ssh_key,
        "changeserviceforvirtualmachine" => virtual_machine::change_service,
        "addiptonic" => nic::add_ip,
        "addnictovirtualmachine" => nic::add,
        "listnics" => nic::list,
        "removeipfromnic" => nic::remove_ip,
        "removenicfromvirtualmachine" => nic::remove,
        "listnetworks" => network::list_networks,
        "createnetwork" => network::create_network,
        "updatenetwork" => network::update_network,
        "deletenetwork" => network::delete_network,
        "associateipaddress" => address::associate,
        "disassociateipaddress" => address::disassociate,
        "listpublicipaddresses" => address::list,
        "createportforwardingrule" => rules::create_port_forwarding_rule,
        "deleteportforwardingrule" => rules::delete_port_forwarding_rule,
        "listportforwardingrules" => rules::list_port_forwarding_rules,
        "createfirewallrule" => rules::create_firewall_rule,
        "deletefirewallrule" => rules::delete_firewall_rule,
        "listfirewallrules" => rules::list_firewall_rules,
        "createegressfirewallrule" => rules::create_egress_rule,
        "deleteegressfirewallrule" => rules::delete_egress_rule,
        "listegressfirewallrules" => rules::list_egress_rules,
        "createsshkeypair" => ssh_keypair::create,
        "registersshkeypair" => ssh_keypair::register,
        "deletesshkeypair" => ssh_keypair::delete,
        "listsshkeypairs" => ssh_keypair::list,
        "createtags" => tags::create,
        "deletetags" => tags::delete,
        "listtags" => tags::list,
        // VPC family (handlers/vpc.rs, network_acl.rs, static_nat.rs, load_balancer.rs)
        "assigntoloadbalancerrule" => load_balancer::assign,
        "createloadbalancerrule" => load_balancer::create,
        "createnetworkacl" => network_acl::create_item,
        "createnetworkacllist" => network_acl::create_list,
        "createvpc" => vpc::create_vpc,
        "deleteloadbalancerrule" => load_balancer::delete,
        "deletenetworkacl" => network_acl::delete_item,
        "deletenetworkacllist" => network_acl::delete_list,
        "deletevpc" => vpc::delete_vpc,
        "disablestaticnat" => static_nat::disable,
        "enablestaticnat" => static_nat::enable,
        "listloadbalancerruleinstances" => load_balancer::list_instances,
        "listloadbalancerrules" => load_balancer::list,
        "listnetworkacllists" => network_acl::list_lists,
        "listnetworkacls" => network_acl::list_items,
        "listvpcofferings" => vpc::list_offerings,
        "listvpcs" => vpc::list_vpcs,
        "removefromloadbalancerrule" => load_balancer::remove,
        "replacenetworkacllist" => network_acl::replace_list,
        "restartvpc" => vpc::restart_vpc,
        "updateloadbalancerrule" => load_balancer::update,
        "updatenetworkaclitem" => network_acl::update_item,
        "updatevpc" => vpc::update_vpc,
        "queryasyncjobresult" => job::query_async_job_result,
        "listasyncjobs" => job::list_async_jobs,
        _ => return None,
    };
    Some(h)
}

/// Whether a command may change the world (fault injection applies "after" faults only to these).
pub fn is_mutating(command: &str) -> bool {
    !(command.starts_with("list") || command == "queryasyncjobresult")
}

/// Whether `s` has the shape of a CloudStack id (UUID, or a legacy numeric id).
pub fn looks_like_id(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Resolves a required id parameter against a collection (431 when malformed or unknown).
pub fn require_id<'w, T>(
    p: &Params,
    name: &str,
    items: &'w [T],
    id_of: impl Fn(&T) -> &str,
) -> Result<&'w T, ApiError> {
    let v = p.req(name)?;
    find_id(p, name, v, items, id_of)
}

/// Resolves an optional id parameter.
pub fn optional_id<'w, T>(
    p: &Params,
    name: &str,
    items: &'w [T],
    id_of: impl Fn(&T) -> &str,
) -> Result<Option<&'w T>, ApiError> {
    match p.opt(name) {
        None => Ok(None),
        Some(v) => find_id(p, name, v, items, id_of).map(Some),
    }
}

fn find_id<'w, T>(
    p: &Params,
    name: &str,
    value: &str,
    items: &'w [T],
    id_of: impl Fn(&T) -> &str,
) -> Result<&'w T, ApiError> {
    if !looks_like_id(value) {
        return Err(p.invalid_id(name, value));
    }
    items
        .iter()
        .find(|t| id_of(t) == value)
        .ok_or_else(|| p.invalid_id(name, value))
}

/// Checks a list filter id: malformed or never-existing ids are a 431 (CloudStack
/// translates every id parameter to a database row first); a removed object's id just
/// matches nothing.
pub fn check_id_filter_in(w: &World, p: &Params, name: &str) -> Result<Option<String>, ApiError> {
    match p.opt(name) {
        Some(v) if !looks_like_id(v) || !w.knows_id(v) => Err(p.invalid_id(name, v)),
        other => Ok(other.map(str::to_string)),
    }
}

/// Case-insensitive substring test for `keyword`.
pub fn keyword_matches(p: &Params, fields: &[&str]) -> bool {
    match p.opt("keyword") {
        None => true,
        Some(k) => {
            let k = k.to_lowercase();
            fields.iter().any(|f| f.to_lowercase().contains(&k))
        }
    }
}

/// `name` filter: exact, case-insensitive (MySQL collation), as CloudStack matches names.
pub fn name_matches(p: &Params, name: &str) -> bool {
    p.opt("name")
        .map(|n| n.eq_ignore_ascii_case(name))
        .unwrap_or(true)
}

/// CloudStack's list answer: `{"count": N, "<key>": [...]}`, `{}` when empty, paged by
/// `page`/`pagesize` (count is the total before paging).
pub fn list_answer(p: &Params, key: &str, items: Vec<Value>) -> Result<Value, ApiError> {
    let total = items.len();
    let page = p.int("page")?;
    let pagesize = p.int("pagesize")?;
    let items: Vec<Value> = match (page, pagesize) {
        (Some(page), Some(size)) if page >= 1 && size >= 1 => {
            let start = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            items.into_iter().skip(start).take(size).collect()
        }
        (Some(_), None) => {
            return Err(ApiError::server_param(
                "pageSize parameter is required when page is specified",
            ))
        }
        _ => items,
    };
    if total == 0 {
        return Ok(json!({}));
    }
    Ok(json!({"count": total, key: items}))
}

/// `{"success": true}` as the sync delete commands answer.
pub fn success() -> Value {
    json!({"success": true})
}
