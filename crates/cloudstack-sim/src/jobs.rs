//! Finishing async jobs: the second half of every async command (VM Starting → Running,
//! template becomes ready, rule becomes Active, object removed, ...).
//!
//! A job's pending work is a serializable [`JobAction`], so a job still pending when the
//! simulator stops is finished after a restart instead of being lost.

use crate::error::ApiError;
use crate::render;
use crate::state::{timestamp, JobAction, World};
use serde_json::{json, Value};

fn gone(what: &str, id: &str) -> ApiError {
    ApiError::with_code(530, format!("{what} {id} no longer exists"))
}

fn remove_ip(w: &mut World, id: &str) {
    w.retire(id);
    w.vpc.static_nat.remove(id);
    w.vpc.lb_rules.retain(|r| r.publicipid != id);
    w.public_ips.retain(|i| i.id != id);
    w.port_forwarding_rules.retain(|r| r.ipaddressid != id);
    w.firewall_rules.retain(|r| r.ipaddressid != id);
    w.tags.retain(|t| t.resourceid != id);
}

fn remove_vm(w: &mut World, id: &str) {
    w.retire(id);
    w.virtual_machines.retain(|v| v.id != id);
    // the ROOT volume goes with the VM; data disks are detached and kept, as CloudStack does
    let roots: Vec<String> = w
        .volumes
        .iter()
        .filter(|v| v.virtualmachineid.as_deref() == Some(id) && v.kind == "ROOT")
        .map(|v| v.id.clone())
        .collect();
    w.volumes.retain(|v| !roots.contains(&v.id));
    for v in &mut w.volumes {
        if v.virtualmachineid.as_deref() == Some(id) {
            v.virtualmachineid = None;
            v.attached = None;
        }
    }
    w.port_forwarding_rules.retain(|r| r.virtualmachineid != id);
    w.vpc.static_nat.retain(|_, n| n.virtualmachineid != id);
    for r in &mut w.vpc.lb_rules {
        r.members.retain(|m| m != id);
    }
    w.tags
        .retain(|t| t.resourceid != id && !roots.contains(&t.resourceid));
}

fn run(w: &mut World, cmd: &str, action: &JobAction) -> Result<Value, ApiError> {
    match action {
        JobAction::VmState { vm, state } => {
            let v = w.vm_mut(vm).ok_or_else(|| gone("VM", vm))?;
            if v.state == "Destroyed" || v.state == "Expunging" {
                return Err(ApiError::with_code(
                    530,
                    format!("VM {} was destroyed while the job ran", v.name),
                ));
            }
            if state == "Running" && v.hostid.is_none() {
                match crate::placement::choose_host(w, vm) {
                    Ok(host) => {
                        if let Some(v) = w.vm_mut(vm) {
                            v.hostid = host;
                        }
                    }
                    Err(e) => {
                        // the planner found no host: the VM is left in Error, as CloudStack does
                        if let Some(v) = w.vm_mut(vm) {
                            v.state = "Error".into();
                        }
                        return Err(e);
                    }
                }
            }
            let v = w.vm_mut(vm).ok_or_else(|| gone("VM", vm))?;
            if state == "Stopped" {
                v.hostid = None;
            }
            v.state = state.clone();
            let v = w.vm(vm).ok_or_else(|| gone("VM", vm))?;
            let with_password = cmd.ends_with("DeployVMCmd");
            Ok(json!({"virtualmachine": render::virtual_machine(w, v, with_password)}))
        }
        JobAction::VmResult { vm } => {
            let v = w.vm(vm).ok_or_else(|| gone("VM", vm))?;
            Ok(json!({"virtualmachine": render::virtual_machine(w, v, false)}))
        }
        JobAction::VmDestroy { vm, expunge } => {
            let v = w.vm_mut(vm).ok_or_else(|| gone("VM", vm))?;
            v.state = if *expunge { "Expunging" } else { "Destroyed" }.into();
            v.hostid = None;
            let v = w.vm(vm).ok_or_else(|| gone("VM", vm))?;
            let out = json!({"virtualmachine": render::virtual_machine(w, v, false)});
            if *expunge {
                remove_vm(w, vm);
            }
            Ok(out)
        }
        JobAction::VmExpunge { vm } => {
            if w.vm(vm).is_none() {
                return Err(gone("VM", vm));
            }
            remove_vm(w, vm);
            Ok(json!({"success": true}))
        }
        JobAction::TemplateReady { template } => {
            let t = w
                .templates
                .iter_mut()
                .find(|t| &t.id == template && !t.removed)
                .ok_or_else(|| gone("template", template))?;
            t.isready = true;
            t.status = "Download Complete".into();
            let t = w
                .template(template)
                .ok_or_else(|| gone("template", template))?;
            Ok(json!({"template": render::template(w, t)}))
        }
        JobAction::TemplateDelete { template } => {
            let t = w
                .templates
                .iter_mut()
                .find(|t| &t.id == template && !t.removed)
                .ok_or_else(|| gone("template", template))?;
            t.removed = true;
            w.tags.retain(|t| &t.resourceid != template);
            Ok(json!({"success": true}))
        }
        JobAction::Activate { object, id } => match object.as_str() {
            "ipaddress" => {
                let ip = w
                    .public_ips
                    .iter_mut()
                    .find(|i| &i.id == id)
                    .ok_or_else(|| gone("IP address", id))?;
                ip.state = "Allocated".into();
                let ip = w.public_ip(id).ok_or_else(|| gone("IP address", id))?;
                Ok(json!({"ipaddress": render::public_ip(w, ip)}))
            }
            "portforwardingrule" => {
                let r = w
                    .port_forwarding_rules
                    .iter_mut()
                    .find(|r| &r.id == id)
                    .ok_or_else(|| gone("port forwarding rule", id))?;
                r.state = "Active".into();
                let r = r.clone();
                Ok(json!({"portforwardingrule": render::port_forwarding_rule(w, &r)}))
            }
            "firewallrule" => {
                let r = w
                    .firewall_rules
                    .iter_mut()
                    .find(|r| &r.id == id)
                    .ok_or_else(|| gone("firewall rule", id))?;
                r.state = "Active".into();
                let r = r.clone();
                Ok(json!({"firewallrule": render::firewall_rule(w, &r)}))
            }
            "egressfirewallrule" => {
                let r = w
                    .egress_rules
                    .iter_mut()
                    .find(|r| &r.id == id)
                    .ok_or_else(|| gone("egress rule", id))?;
                r.state = "Active".into();
                let r = r.clone();
                Ok(json!({"firewallrule": render::egress_rule(w, &r)}))
            }
            "securitygroupingress" => crate::handlers::security_group::authorized(w, false, id),
            "securitygroupegress" => crate::handlers::security_group::authorized(w, true, id),
            "project" => {
                let p = w
                    .projects
                    .iter()
                    .find(|p| &p.id == id)
                    .ok_or_else(|| gone("project", id))?;
                Ok(json!({"project": render::project(p)}))
            }
            "volume" => {
                let v = w
                    .volumes
                    .iter()
                    .find(|v| &v.id == id)
                    .ok_or_else(|| gone("volume", id))?;
                Ok(json!({"volume": render::volume(w, v)}))
            }
            "affinitygroup" => {
                let g = w
                    .affinity_groups
                    .iter()
                    .find(|g| &g.id == id)
                    .ok_or_else(|| gone("affinity group", id))?;
                Ok(json!({"affinitygroup": render::affinity_group(w, g)}))
            }
            "network" => {
                let n = w.network(id).ok_or_else(|| gone("network", id))?;
                Ok(json!({"network": render::network(w, n)}))
            }
            other => Err(ApiError::with_code(
                530,
                format!("unknown object kind {other}"),
            )),
        },
        JobAction::Remove { object, id } => {
            w.retire(id);
            match object.as_str() {
                "ipaddress" => {
                    if w.public_ip(id).is_none() {
                        return Err(gone("IP address", id));
                    }
                    remove_ip(w, id);
                }
                "project" => {
                    if !w.projects.iter().any(|p| &p.id == id) {
                        return Err(gone("project", id));
                    }
                    w.projects.retain(|p| &p.id != id);
                }
                "affinitygroup" => {
                    if !w.affinity_groups.iter().any(|g| &g.id == id) {
                        return Err(gone("affinity group", id));
                    }
                    w.affinity_groups.retain(|g| &g.id != id);
                    for vm in &mut w.virtual_machines {
                        vm.affinitygroupids.retain(|g| g != id);
                    }
                }
                "portforwardingrule" => w.port_forwarding_rules.retain(|r| &r.id != id),
                "firewallrule" => w.firewall_rules.retain(|r| &r.id != id),
                "egressfirewallrule" => w.egress_rules.retain(|r| &r.id != id),
                "network" => {
                    if w.network(id).is_none() {
                        return Err(gone("network", id));
                    }
                    let ips: Vec<String> = w
                        .public_ips
                        .iter()
                        .filter(|i| i.associatednetworkid.as_deref() == Some(id.as_str()))
                        .map(|i| i.id.clone())
                        .collect();
                    for ip in ips {
                        remove_ip(w, &ip);
                    }
                    w.egress_rules.retain(|r| &r.networkid != id);
                    w.vpc.tier_acls.remove(id.as_str());
                    w.networks.retain(|n| &n.id != id);
                }
                other => {
                    return Err(ApiError::with_code(
                        530,
                        format!("unknown object kind {other}"),
                    ))
                }
            }
            w.tags.retain(|t| &t.resourceid != id);
            Ok(json!({"success": true}))
        }
        JobAction::Success => Ok(json!({"success": true})),
        JobAction::Fail {
            errorcode,
            errortext,
        } => Err(ApiError::with_code(*errorcode, errortext.clone())),
        JobAction::SecondaryIp { id } => crate::handlers::nic::secondary_ip_answer(w, id),
        JobAction::Vpc { object, id, remove } => {
            crate::handlers::vpc::finish(w, object, id, *remove)
        }
    }
}

/// Finishes one job if it is still pending; returns whether anything changed.
pub fn complete(w: &mut World, jobid: &str) -> bool {
    let Some(idx) = w.jobs.iter().position(|j| j.jobid == jobid) else {
        return false;
    };
    let Some(action) = w.jobs[idx].action.take() else {
        return false;
    };
    let cmd = w.jobs[idx].cmd.clone();
    let outcome = run(w, &cmd, &action);
    // `run` may have removed objects but never jobs, so the index is still valid.
    if let Some(job) = w.jobs.iter_mut().find(|j| j.jobid == jobid) {
        job.completed = Some(timestamp());
        match outcome {
            Ok(v) => {
                job.jobstatus = 1;
                job.jobresultcode = 0;
                job.jobresult = Some(v);
            }
            Err(e) => {
                job.jobstatus = 2;
                job.jobresultcode = i64::from(e.errorcode);
                job.jobresult = Some(json!({"errorcode": e.errorcode, "errortext": e.errortext}));
            }
        }
    }
    true
}

/// Ids of jobs still pending (to finish after a restart).
pub fn pending(w: &World) -> Vec<String> {
    w.jobs
        .iter()
        .filter(|j| j.action.is_some())
        .map(|j| j.jobid.clone())
        .collect()
}
