//! CloudStack 4.x response shapes for each object (field names and JSON types as the
//! real management server returns them, because real clients decode them strictly).

use crate::placement::AffinityGroup;
use crate::state::{
    DiskOffering, EgressRule, FirewallRule, Network, NetworkOffering, OsType, PortForwardingRule,
    PublicIp, ServiceOffering, SshKeyPair, Tag, Template, VirtualMachine, Volume, World, Zone,
};
use serde_json::{json, Map, Value};

/// The account every object belongs to (the simulator has a single root admin).
pub const ACCOUNT: &str = "admin";
/// The admin account's UUID in the simulator.
pub const ACCOUNT_ID: &str = "8a2a2c1e-0000-4000-8000-000000000002";
/// The ROOT domain's UUID in the simulator.
pub const DOMAIN_ID: &str = "8a2a2c1e-0000-4000-8000-000000000001";

/// The ROOT domain's name (and path).
pub const DOMAIN_NAME: &str = "ROOT";

/// The simulator's one domain (`DomainResponse`).
pub fn domain() -> Value {
    json!({
        "id": DOMAIN_ID, "name": DOMAIN_NAME, "path": DOMAIN_NAME, "level": 0,
        "haschild": false, "state": "Active", "hasannotations": false,
    })
}

fn owner(v: &mut Map<String, Value>) {
    v.insert("account".into(), json!(ACCOUNT));
    v.insert("domainid".into(), json!(DOMAIN_ID));
    v.insert("domain".into(), json!("ROOT"));
}

/// Inserts `key` when there is a value (CloudStack leaves unset fields out).
fn put_opt(v: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(x) = value {
        v.insert(key.into(), json!(x));
    }
}

/// The owner fields, plus `projectid` for a project's object.
fn owned(v: &mut Map<String, Value>, projectid: Option<&String>) {
    owner(v);
    put_opt(v, "projectid", projectid);
}

/// The owner fields of network or IP `id`, with `project`/`projectid` when a project owns
/// it (CloudStack's ControlledEntityResponse).
fn project_owned(w: &World, v: &mut Map<String, Value>, id: &str) {
    owner(v);
    if let Some(pid) = w.owner(id) {
        v.insert("projectid".into(), json!(pid));
        if let Some(p) = w.projects.iter().find(|p| p.id == pid) {
            v.insert("project".into(), json!(p.name));
        }
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Tags in the shape embedded in objects (`tags: [...]`).
pub fn tags_json(w: &World, id: &str) -> Value {
    Value::Array(w.tags_of(id).into_iter().map(tag).collect())
}

/// A tag.
pub fn tag(t: &Tag) -> Value {
    json!({
        "key": t.key, "value": t.value, "resourcetype": t.resourcetype,
        "resourceid": t.resourceid, "account": ACCOUNT, "domainid": DOMAIN_ID, "domain": "ROOT",
    })
}

fn zone_name(w: &World, id: &str) -> String {
    w.zone(id).map(|z| z.name.clone()).unwrap_or_default()
}

/// A zone.
pub fn zone(z: &Zone) -> Value {
    json!({
        "id": z.id, "name": z.name, "description": z.description,
        "dns1": "8.8.8.8", "internaldns1": "10.0.0.2", "networktype": z.networktype,
        "securitygroupsenabled": z.securitygroupsenabled, "allocationstate": "Enabled",
        "zonetoken": "c5f0e9b1-4d1e-3c8a-9b6f-2d5a7e0c1f00", "dhcpprovider": "VirtualRouter",
        "localstorageenabled": false, "tags": [],
    })
}

/// An OS type.
pub fn os_type(o: &OsType) -> Value {
    json!({"id": o.id, "description": o.description, "oscategoryid": o.oscategoryid, "isuserdefined": false})
}

/// A service offering.
pub fn service_offering(s: &ServiceOffering) -> Value {
    json!({
        "id": s.id, "name": s.name, "displaytext": s.displaytext, "cpunumber": s.cpunumber,
        "cpuspeed": s.cpuspeed, "memory": s.memory, "created": "2016-01-01T00:00:00+0000",
        "storagetype": "shared", "provisioningtype": "thin", "offerha": false,
        "limitcpuuse": false, "isvolatile": false, "issystem": false, "defaultuse": false,
        "iscustomized": false, "hosttags": "", "isdynamicallyscalable": true,
    })
}

/// A disk offering.
pub fn disk_offering(d: &DiskOffering) -> Value {
    json!({
        "id": d.id, "name": d.name, "displaytext": d.displaytext, "disksize": d.disksize,
        "created": "2016-01-01T00:00:00+0000", "iscustomized": d.iscustomized,
        "storagetype": "shared", "provisioningtype": "thin", "displayoffering": true,
    })
}

/// A network offering.
pub fn network_offering(n: &NetworkOffering) -> Value {
    let services: Vec<Value> = n
        .services
        .iter()
        .map(|s| json!({"name": s, "provider": [{"name": "VirtualRouter"}], "capability": []}))
        .collect();
    json!({
        "id": n.id, "name": n.name, "displaytext": n.displaytext, "traffictype": "Guest",
        "isdefault": true, "specifyvlan": n.specifyvlan, "conservemode": true,
        "specifyipranges": n.specifyipranges, "availability": "Optional", "networkrate": 200,
        "state": "Enabled", "guestiptype": n.guestiptype, "serviceofferingid": "",
        "service": services, "forvpc": n.forvpc, "ispersistent": false, "egressdefaultpolicy": true,
        "supportsstrechedl2subnet": false, "supportspublicaccess": false,
    })
}

/// A template or ISO.
pub fn template(w: &World, t: &Template) -> Value {
    let mut v = obj(json!({
        "id": t.id, "name": t.name, "displaytext": t.displaytext, "ispublic": t.ispublic,
        "created": t.created, "isready": t.isready, "passwordenabled": t.passwordenabled,
        "format": t.format, "isfeatured": t.isfeatured, "crossZones": false,
        "ostypeid": t.ostypeid,
        "ostypename": w.os_types.iter().find(|o| o.id == t.ostypeid).map(|o| o.description.clone()).unwrap_or_default(),
        "zoneid": t.zoneid, "zonename": zone_name(w, &t.zoneid), "status": t.status,
        "size": t.size, "templatetype": t.templatetype, "hypervisor": t.hypervisor,
        "isextractable": t.isextractable, "sshkeyenabled": false,
        "isdynamicallyscalable": t.isdynamicallyscalable, "requireshvm": t.requireshvm,
        "bootable": true, "tags": tags_json(w, &t.id),
    }));
    owned(&mut v, t.projectid.as_ref());
    if let Some(tag) = &t.templatetag {
        v.insert("templatetag".into(), json!(tag));
    }
    if let Some(url) = &t.url {
        v.insert("url".into(), json!(url));
    }
    if !t.isready {
        v.remove("size");
    }
    Value::Object(v)
}

/// A volume.
pub fn volume(w: &World, vol: &Volume) -> Value {
    let vm = vol.virtualmachineid.as_deref().and_then(|id| w.vm(id));
    let mut v = obj(json!({
        "id": vol.id, "name": vol.name, "type": vol.kind, "zoneid": vol.zoneid,
        "zonename": zone_name(w, &vol.zoneid), "deviceid": vol.deviceid, "size": vol.size,
        "created": vol.created, "state": vol.state, "storagetype": "shared",
        "provisioningtype": "thin", "hypervisor": vm.map(|m| m.hypervisor.clone()).unwrap_or_else(|| "KVM".into()),
        "storage": "primary01", "destroyed": false, "isextractable": true,
        "deleteprotection": vol.deleteprotection, "tags": tags_json(w, &vol.id),
    }));
    owner(&mut v);
    if let Some(vm) = vm {
        v.insert("virtualmachineid".into(), json!(vm.id));
        v.insert("vmname".into(), json!(vm.name));
        v.insert("vmdisplayname".into(), json!(vm.displayname));
        v.insert("vmstate".into(), json!(vm.state));
        if let Some(a) = &vol.attached {
            v.insert("attached".into(), json!(a));
        }
    }
    put_opt(&mut v, "projectid", vol.projectid.as_ref());
    if let Some(t) = &vol.templateid {
        v.insert("templateid".into(), json!(t));
    }
    if let Some(d) = vol
        .diskofferingid
        .as_deref()
        .and_then(|d| w.disk_offerings.iter().find(|o| o.id == d))
    {
        v.insert("diskofferingid".into(), json!(d.id));
        v.insert("diskofferingname".into(), json!(d.name));
    }
    Value::Object(v)
}

/// A network.
pub fn network(w: &World, n: &Network) -> Value {
    let off = w
        .network_offerings
        .iter()
        .find(|o| o.id == n.networkofferingid);
    let services: Vec<Value> = off
        .map(|o| o.services.iter().map(|s| json!({"name": s, "provider": [{"name": "VirtualRouter"}], "capability": []})).collect())
        .unwrap_or_default();
    let mut v = obj(json!({
        "id": n.id, "name": n.name, "displaytext": n.displaytext, "broadcastdomaintype": "Vlan",
        "traffictype": "Guest", "gateway": n.gateway, "netmask": n.netmask, "cidr": n.cidr,
        "zoneid": n.zoneid, "zonename": zone_name(w, &n.zoneid),
        "networkofferingid": n.networkofferingid,
        "networkofferingname": off.map(|o| o.name.clone()).unwrap_or_default(),
        "networkofferingdisplaytext": off.map(|o| o.displaytext.clone()).unwrap_or_default(),
        "networkofferingconservemode": true, "networkofferingavailability": "Optional",
        "issystem": false, "state": n.state, "related": n.id, "dns1": "8.8.8.8",
        "type": n.kind, "acltype": "Account", "networkdomain": n.networkdomain,
        "physicalnetworkid": "4b5f8e2a-0000-4000-8000-0000000000aa", "restartrequired": false,
        "specifyipranges": off.map(|o| o.specifyipranges).unwrap_or(false),
        "canusefordeploy": true, "ispersistent": false, "displaynetwork": true,
        "service": services, "tags": tags_json(w, &n.id),
    }));
    project_owned(w, &mut v, &n.id);
    if let Some(vpc) = &n.vpcid {
        v.insert("vpcid".into(), json!(vpc));
    }
    if let Some(acl) = w.vpc.tier_acls.get(&n.id) {
        v.insert("aclid".into(), json!(acl));
    }
    Value::Object(v)
}

/// A NIC (`NicResponse`) as a VM shows it; `listNics` adds `virtualmachineid`.
pub fn nic(w: &World, n: &crate::state::Nic) -> Value {
    let net = w.network(&n.networkid);
    let secondary: Vec<Value> = n
        .secondaryip
        .iter()
        .map(|s| json!({"id": s.id, "ipaddress": s.ipaddress}))
        .collect();
    json!({
        "id": n.id, "networkid": n.networkid,
        "networkname": net.map(|x| x.name.clone()).unwrap_or_default(),
        "netmask": n.netmask, "gateway": n.gateway, "ipaddress": n.ipaddress,
        "isolationuri": "vlan://1001", "broadcasturi": "vlan://1001",
        "traffictype": "Guest", "type": net.map(|x| x.kind.clone()).unwrap_or_else(|| "Isolated".into()),
        "isdefault": n.isdefault, "macaddress": n.macaddress, "secondaryip": secondary,
        "extradhcpoption": [],
    })
}

/// A VM; `with_password` only for deploy/reset answers, as CloudStack does.
pub fn virtual_machine(w: &World, vm: &VirtualMachine, with_password: bool) -> Value {
    let tpl = w.templates.iter().find(|t| t.id == vm.templateid);
    let so = w
        .service_offerings
        .iter()
        .find(|s| s.id == vm.serviceofferingid);
    let nics: Vec<Value> = vm.nic.iter().map(|n| nic(w, n)).collect();
    let groups: Vec<Value> = vm
        .securitygroupids
        .iter()
        .filter_map(|g| w.security_groups.iter().find(|x| &x.id == g))
        .map(|g| {
            let mut v = obj(json!({
                "id": g.id, "name": g.name, "ingressrule": [], "egressrule": [], "tags": [],
            }));
            put_opt(&mut v, "description", g.description.as_ref());
            owned(&mut v, g.projectid.as_ref());
            Value::Object(v)
        })
        .collect();
    let mut v = obj(json!({
        "id": vm.id, "name": vm.name, "displayname": vm.displayname, "created": vm.created,
        "state": vm.state, "haenable": false, "zoneid": vm.zoneid,
        "zonename": zone_name(w, &vm.zoneid), "templateid": vm.templateid,
        "templatename": tpl.map(|t| t.name.clone()).unwrap_or_default(),
        "templatedisplaytext": tpl.map(|t| t.displaytext.clone()).unwrap_or_default(),
        "passwordenabled": tpl.map(|t| t.passwordenabled).unwrap_or(false),
        "serviceofferingid": vm.serviceofferingid,
        "serviceofferingname": so.map(|s| s.name.clone()).unwrap_or_default(),
        "cpunumber": so.map(|s| s.cpunumber).unwrap_or(1),
        "cpuspeed": so.map(|s| s.cpuspeed).unwrap_or(1000),
        "memory": so.map(|s| s.memory).unwrap_or(512),
        "guestosid": vm.guestosid, "ostypeid": vm.guestosid, "rootdeviceid": 0,
        "rootdevicetype": "ROOT", "nic": nics, "hypervisor": vm.hypervisor,
        "securitygroup": groups,
        "deleteprotection": vm.deleteprotection,
        // CloudStack: "Uefi" with the mode in lower case from the VM's UEFI detail, else Bios
        "boottype": if vm.uefi_bootmode.is_some() { "Uefi" } else { "Bios" },
        "bootmode": vm.uefi_bootmode.as_deref().map_or("legacy".into(), str::to_ascii_lowercase),
        "instancename": format!("i-2-{}-VM", vm.number),
        "affinitygroup": vm.affinitygroupids.iter()
            .filter_map(|g| w.affinity_groups.iter().find(|x| &x.id == g))
            .map(|g| affinity_group(w, g)).collect::<Vec<_>>(),
        "displayvm": true, "isdynamicallyscalable": false, "details": {},
        "tags": tags_json(w, &vm.id),
    }));
    owned(&mut v, vm.projectid.as_ref());
    if let Some(pr) = vm
        .projectid
        .as_deref()
        .and_then(|id| w.projects.iter().find(|x| x.id == id))
    {
        v.insert("project".into(), json!(pr.name));
    }
    if let Some(k) = &vm.keypair {
        v.insert("keypair".into(), json!(k));
        v.insert("keypairs".into(), json!(k));
    }
    if let Some(h) = vm
        .hostid
        .as_deref()
        .and_then(|h| w.hosts.iter().find(|x| x.id == h))
    {
        v.insert("hostid".into(), json!(h.id));
        v.insert("hostname".into(), json!(h.name));
    }
    if let Some(g) = &vm.group {
        v.insert("group".into(), json!(g));
    }
    if let Some(d) = &vm.diskofferingid {
        v.insert("diskofferingid".into(), json!(d));
    }
    if let (true, Some(p)) = (with_password, &vm.password) {
        v.insert("password".into(), json!(p));
    }
    if let Some(u) = vm
        .userdataid
        .as_deref()
        .and_then(|u| w.user_data.iter().find(|x| x.id == u))
    {
        v.insert("userdataid".into(), json!(u.id));
        v.insert("userdataname".into(), json!(u.name));
    }
    if let Some(iso) = &vm.isoid {
        v.insert("isoid".into(), json!(iso));
        if let Some(t) = w.templates.iter().find(|t| &t.id == iso) {
            v.insert("isoname".into(), json!(t.name));
            v.insert("isodisplaytext".into(), json!(t.displaytext));
        }
    }
    Value::Object(v)
}

/// A public IP.
pub fn public_ip(w: &World, ip: &PublicIp) -> Value {
    let mut v = obj(json!({
        "id": ip.id, "ipaddress": ip.ipaddress, "allocated": ip.allocated, "zoneid": ip.zoneid,
        "zonename": zone_name(w, &ip.zoneid), "issourcenat": ip.issourcenat,
        "isstaticnat": false, "issystem": false, "forvirtualnetwork": true,
        "vlanid": "6a0e9f3c-0000-4000-8000-0000000000bb", "vlanname": "vlan://untagged",
        "state": ip.state, "isportable": false, "fordisplay": true,
        "networkid": "4b5f8e2a-0000-4000-8000-0000000000ab",
        "physicalnetworkid": "4b5f8e2a-0000-4000-8000-0000000000aa",
        "tags": tags_json(w, &ip.id),
    }));
    project_owned(w, &mut v, &ip.id);
    if let Some(n) = &ip.associatednetworkid {
        v.insert("associatednetworkid".into(), json!(n));
        if let Some(net) = w.network(n) {
            v.insert("associatednetworkname".into(), json!(net.name));
        }
    }
    if let Some(vpc) = &ip.vpcid {
        v.insert("vpcid".into(), json!(vpc));
    }
    if let Some(nat) = w.vpc.static_nat.get(&ip.id) {
        v.insert("isstaticnat".into(), json!(true));
        v.insert("virtualmachineid".into(), json!(nat.virtualmachineid));
        v.insert("vmipaddress".into(), json!(nat.vmguestip));
        if let Some(vm) = w.vm(&nat.virtualmachineid) {
            v.insert("virtualmachinename".into(), json!(vm.name));
            v.insert("virtualmachinedisplayname".into(), json!(vm.displayname));
        }
    }
    Value::Object(v)
}

/// A port forwarding rule.
pub fn port_forwarding_rule(w: &World, r: &PortForwardingRule) -> Value {
    let ip = w.public_ip(&r.ipaddressid);
    let vm = w.vm(&r.virtualmachineid);
    json!({
        "id": r.id, "privateport": r.privateport.to_string(),
        "privateendport": r.privateendport.to_string(),
        "publicport": r.publicport.to_string(), "publicendport": r.publicendport.to_string(),
        "protocol": r.protocol, "virtualmachineid": r.virtualmachineid,
        "virtualmachinename": vm.map(|v| v.name.clone()).unwrap_or_default(),
        "virtualmachinedisplayname": vm.map(|v| v.displayname.clone()).unwrap_or_default(),
        "ipaddressid": r.ipaddressid,
        "ipaddress": ip.map(|i| i.ipaddress.clone()).unwrap_or_default(),
        "state": r.state, "cidrlist": "", "vmguestip": r.vmguestip, "networkid": r.networkid,
        "fordisplay": true, "tags": tags_json(w, &r.id),
    })
}

/// An ingress firewall rule.
pub fn firewall_rule(w: &World, r: &FirewallRule) -> Value {
    let ip = w.public_ip(&r.ipaddressid);
    let mut v = obj(json!({
        "id": r.id, "protocol": r.protocol, "ipaddressid": r.ipaddressid,
        "ipaddress": ip.map(|i| i.ipaddress.clone()).unwrap_or_default(),
        "state": r.state, "cidrlist": r.cidrlist.join(","), "fordisplay": true,
        "tags": tags_json(w, &r.id),
    }));
    if let Some(n) = ip.and_then(|i| i.associatednetworkid.clone()) {
        v.insert("networkid".into(), json!(n));
    }
    ports_and_icmp(&mut v, r.startport, r.endport, r.icmptype, r.icmpcode);
    Value::Object(v)
}

fn ports_and_icmp(
    v: &mut Map<String, Value>,
    start: Option<u16>,
    end: Option<u16>,
    icmptype: Option<i64>,
    icmpcode: Option<i64>,
) {
    if let Some(s) = start {
        v.insert("startport".into(), json!(s));
    }
    if let Some(e) = end {
        v.insert("endport".into(), json!(e));
    }
    if let Some(t) = icmptype {
        v.insert("icmptype".into(), json!(t));
    }
    if let Some(c) = icmpcode {
        v.insert("icmpcode".into(), json!(c));
    }
}

/// An egress firewall rule.
pub fn egress_rule(w: &World, r: &EgressRule) -> Value {
    let mut v = obj(json!({
        "id": r.id, "protocol": r.protocol, "networkid": r.networkid, "state": r.state,
        "cidrlist": r.cidrlist.join(","), "traffictype": "Egress", "fordisplay": true,
        "tags": tags_json(w, &r.id),
    }));
    if !r.destcidrlist.is_empty() {
        v.insert("destcidrlist".into(), json!(r.destcidrlist.join(",")));
    }
    ports_and_icmp(&mut v, r.startport, r.endport, r.icmptype, r.icmpcode);
    Value::Object(v)
}

/// An SSH key pair (never the private key: only createSSHKeyPair's answer has it).
pub fn ssh_keypair(k: &SshKeyPair) -> Value {
    let mut v = obj(json!({"id": k.id, "name": k.name, "fingerprint": k.fingerprint}));
    owned(&mut v, k.projectid.as_ref());
    Value::Object(v)
}

/// An affinity group (`AffinityGroupResponse`), with its members' ids.
pub fn affinity_group(w: &World, g: &AffinityGroup) -> Value {
    let members: Vec<&str> = w
        .virtual_machines
        .iter()
        .filter(|v| v.affinitygroupids.contains(&g.id))
        .map(|v| v.id.as_str())
        .collect();
    let mut v = obj(json!({
        "id": g.id, "name": g.name, "type": g.kind, "virtualmachineIds": members,
    }));
    put_opt(&mut v, "description", g.description.as_ref());
    owned(&mut v, g.projectid.as_ref());
    Value::Object(v)
}

/// A registered user data (`UserDataResponse`).
pub fn user_data(u: &crate::handlers::UserData) -> Value {
    let mut v = obj(json!({"id": u.id, "name": u.name, "userdata": u.userdata}));
    owned(&mut v, u.projectid.as_ref());
    v.insert("accountid".into(), json!(ACCOUNT_ID));
    put_opt(&mut v, "params", u.params.as_ref());
    Value::Object(v)
}

/// A security group (`SecurityGroupResponse`) with its rules.
pub fn security_group(w: &World, g: &crate::state::SecurityGroup) -> Value {
    let members: Vec<&str> = w
        .virtual_machines
        .iter()
        .filter(|vm| vm.securitygroupids.contains(&g.id))
        .map(|vm| vm.id.as_str())
        .collect();
    let rules = |rs: &[crate::state::SecurityGroupRule]| -> Vec<Value> {
        rs.iter()
            .map(|r| {
                let mut v = obj(json!({"ruleid": r.ruleid, "protocol": r.protocol, "tags": []}));
                for (k, x) in [
                    ("startport", r.startport),
                    ("endport", r.endport),
                    ("icmptype", r.icmptype),
                    ("icmpcode", r.icmpcode),
                ] {
                    if let Some(x) = x {
                        v.insert(k.into(), json!(x));
                    }
                }
                if let Some(c) = &r.cidr {
                    v.insert("cidr".into(), json!(c));
                }
                if let Some(n) = &r.securitygroupname {
                    v.insert("securitygroupname".into(), json!(n));
                    v.insert("account".into(), json!(ACCOUNT));
                }
                Value::Object(v)
            })
            .collect()
    };
    let mut v = obj(json!({
        "id": g.id, "name": g.name, "ingressrule": rules(&g.ingress),
        "egressrule": rules(&g.egress), "tags": tags_json(w, &g.id),
        "virtualmachinecount": members.len(), "virtualmachineids": members,
    }));
    put_opt(&mut v, "description", g.description.as_ref());
    owned(&mut v, g.projectid.as_ref());
    Value::Object(v)
}

/// A project (`ProjectResponse`), owned by the simulator's account.
pub fn project(p: &crate::state::Project) -> Value {
    json!({
        "id": p.id, "name": p.name, "displaytext": p.displaytext, "state": p.state,
        "created": p.created, "domainid": DOMAIN_ID, "domain": "ROOT",
        "owner": [{"account": ACCOUNT, "accountid": ACCOUNT_ID}], "tags": [],
    })
}
