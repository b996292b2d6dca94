//! What the rule-set resources share (`cloudstack_firewall`,
//! `cloudstack_egress_firewall`, `cloudstack_port_forward`,
//! `cloudstack_network_acl_rule`): bounded concurrent rule jobs, the
//! checks of port numbers, protocols and CIDRs their blocks hold, and
//! whether the IP or network a rule set hangs on still exists.

use std::{
    collections::HashSet,
    future::Future,
    net::{Ipv4Addr, Ipv6Addr},
};

use cloudstack::Params;
use futures::StreamExt;
use tfplugin5::{model::Field, AttributePath, Diagnostic, Diagnostics};

use cloudstack::{
    model::{Network, PublicIpAddress},
    resolve::is_uuid,
};

use crate::{
    common::{bounded, find_by_id, project_id, spelling},
    provider::Client,
};

/// Upper bound of rule jobs in flight for one resource: enough to hide job
/// latency, small enough not to flood an API with rate limits.
pub(crate) const MAX_IN_FLIGHT: usize = 10;

/// The `parallelism` default of the Go provider's rule-set resources.
pub(crate) const DEFAULT_PARALLELISM: i64 = 2;

/// Rule jobs in flight for a resource's `parallelism` (default
/// [`DEFAULT_PARALLELISM`]), within 1..=[`MAX_IN_FLIGHT`].
pub(crate) fn jobs_in_flight(parallelism: Option<i64>) -> usize {
    let p = parallelism.unwrap_or(DEFAULT_PARALLELISM);
    usize::try_from(p).unwrap_or(1).clamp(1, MAX_IN_FLIGHT)
}

/// A rule field in lower case (`default` when unset): CloudStack answers
/// `Ingress`, `TCP`, `Allow` where configurations say `ingress`, `tcp`, `allow`.
pub(crate) fn lower(s: &Option<String>, default: &str) -> String {
    s.as_deref().unwrap_or(default).to_ascii_lowercase()
}

/// Runs `f` on every item with at most `limit` futures in flight and returns
/// the results in the order of `items`. No sleeps between launches: the
/// client backs off on 429 by itself.
pub(crate) async fn in_parallel<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let f = &f;
    let mut out: Vec<(usize, R)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move { (i, f(item).await) })
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The units ("one CloudStack rule each") a rule set's blocks want: the
/// index of the block, the unit, and the existing rule serving it if any.
pub(crate) type Wanted<U, H> = Vec<(usize, U, Option<H>)>;

/// The first step of converging a rule set whose blocks each stand for
/// several CloudStack rules: every unit the `blocks` want paired with a
/// prior rule that `serves` it (`serves(want, have)`; each prior rule used
/// once, kept as `keep(have, id)` makes it), and the prior rules no block
/// wants any more, which the caller deletes first.
pub(crate) fn match_prior<B, U, H>(
    blocks: &[B],
    units_of: impl Fn(&B) -> Vec<U>,
    prior: Vec<(U, String)>,
    serves: impl Fn(&U, &U) -> bool,
    keep: impl Fn(&U, &str) -> H,
) -> (Wanted<U, H>, Vec<(U, String)>) {
    let mut used: HashSet<String> = HashSet::new();
    let mut wanted = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        for u in units_of(b) {
            let reuse = prior
                .iter()
                .find(|(have, id)| !used.contains(id) && serves(&u, have))
                .map(|(have, id)| {
                    used.insert(id.clone());
                    keep(have, id)
                });
            wanted.push((i, u, reuse));
        }
    }
    let doomed = prior
        .into_iter()
        .filter(|(_, id)| !used.contains(id))
        .collect();
    (wanted, doomed)
}

/// The wanted units no prior rule serves, by their position in `wanted`:
/// what to create.
pub(crate) fn missing<U: Clone, H>(wanted: &Wanted<U, H>) -> Vec<(usize, U)> {
    wanted
        .iter()
        .enumerate()
        .filter(|(_, (_, _, have))| have.is_none())
        .map(|(n, (_, u, _))| (n, u.clone()))
        .collect()
}

/// Parses a port number 1..=65535.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p > 0)
}

/// Parses a `ports` entry: `"80"` or `"80-90"` with start <= end.
pub(crate) fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        None => parse_port(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (parse_port(a)?, parse_port(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

/// Whether `s` is an IPv4 or IPv6 CIDR such as `0.0.0.0/0` or `10.1.0.0/16`.
pub(crate) fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    if addr.parse::<Ipv4Addr>().is_ok() {
        len <= 32
    } else {
        addr.parse::<Ipv6Addr>().is_ok() && len <= 128
    }
}

/// A port number attribute (`private_port`, ...) checked to be 1..=65535;
/// `None` when unset or unknown.
pub(crate) fn check_port_number(
    v: Option<i64>,
    what: &str,
    block: &str,
    diags: &mut Diagnostics,
) -> Option<u16> {
    let n = v?;
    match u16::try_from(n).ok().filter(|p| *p > 0) {
        Some(p) => Some(p),
        None => {
            diags.push(
                Diagnostic::error(
                    format!("Invalid {block}.{what}: {n} is out of range"),
                    format!("{what} must be a port number from 1 to 65535."),
                )
                .at(AttributePath::attr(block)),
            );
            None
        }
    }
}

/// Checks `protocol` (when known) against the allowed lower-case values.
pub(crate) fn check_protocol(
    protocol: Option<&str>,
    allowed: &[&str],
    block: &str,
    diags: &mut Diagnostics,
) {
    if let Some(p) = protocol {
        if !allowed.contains(&p) {
            let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
            diags.push(
                Diagnostic::error(
                    format!("Invalid {block}.protocol: {p:?} is not a valid protocol"),
                    format!("Valid options are {} (lower case).", list.join(", ")),
                )
                .at(AttributePath::attr(block)),
            );
        }
    }
}

/// Checks each entry of a CIDR set attribute.
pub(crate) fn check_cidrs(cidrs: &[String], what: &str, block: &str, diags: &mut Diagnostics) {
    for c in cidrs {
        if !is_cidr(c) {
            diags.push(
                Diagnostic::error(
                    format!("Invalid {block}.{what} entry {c:?}: not a CIDR"),
                    "Write an address range in CIDR notation, e.g. \"0.0.0.0/0\" or \"10.0.0.0/8\" \
                     (address, slash, prefix length 0-32 for IPv4 or 0-128 for IPv6).",
                )
                .at(AttributePath::attr(block)),
            );
        }
    }
}

/// Errors at `block` for each entry of a rule block's CIDR list that is
/// not a CIDR (the blocks that stand for several rules).
pub(crate) fn check_cidr_entries<'a>(
    cidrs: impl IntoIterator<Item = &'a str>,
    block: &str,
    diags: &mut Diagnostics,
) {
    for cidr in cidrs {
        if !is_cidr(cidr) {
            diags.attribute_error(
                block,
                format!("{cidr:?} is not a CIDR"),
                "Write e.g. \"10.0.0.0/8\" or \"0.0.0.0/0\".",
            );
        }
    }
}

/// Errors at `block` for each port entry that is not `"80"` or `"80-90"`.
pub(crate) fn check_port_entries<'a>(
    ports: impl IntoIterator<Item = &'a str>,
    block: &str,
    diags: &mut Diagnostics,
) {
    for p in ports {
        if parse_port_range(p).is_none() {
            diags.attribute_error(
                block,
                format!("{p:?} is not a valid port value"),
                "Valid options are '80' or '80-90'.",
            );
        }
    }
}

/// Strings as a sorted set without duplicates (order-free comparison).
pub(crate) fn sorted(items: &[String]) -> Vec<String> {
    let mut out = items.to_vec();
    out.sort();
    out.dedup();
    out
}

/// CloudStack's comma-separated `cidrlist` as a sorted list.
pub(crate) fn split_list(s: Option<&str>) -> Vec<String> {
    let items: Vec<String> = s
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    sorted(&items)
}

/// The project that owns a rule set's IP address or network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The project's id (what list calls take as `projectid`).
    pub(crate) id: String,
    /// Its name, when CloudStack said it.
    pub(crate) name: Option<String>,
}

/// The `project` to keep in state: the user's spelling, else the owner's
/// name (or id), else none.
pub(crate) fn project_value(prior: &Field<String>, owner: Option<&Owner>) -> Field<String> {
    match (prior.non_empty(), owner) {
        (Some(p), Some(o)) => Field::Known(spelling(Some(p), o.name.as_deref(), &o.id)),
        (Some(p), None) => Field::Known(p.to_string()),
        (None, Some(o)) => Field::Known(o.name.clone().unwrap_or_else(|| o.id.clone())),
        (None, None) => Field::Null,
    }
}

/// What a rule set hangs on: its ID is the scope's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A public IP address (`ipaddressid`).
    IpAddress,
    /// A guest network (`networkid`).
    Network,
}

impl Scope {
    /// The list parameter naming the scope, e.g. `ipaddressid`.
    pub(crate) fn param(self) -> &'static str {
        match self {
            Scope::IpAddress => "ipaddressid",
            Scope::Network => "networkid",
        }
    }

    /// The project owning the IP address or network `id`: the `project`
    /// attribute's (name or id) when set, else the one CloudStack lists the
    /// object under (the Go provider inherits it the same way), else none.
    /// Rules of a project's IP are listed only with its `projectid`. On a
    /// read (`exact` false) one listing of every project's objects serves the
    /// whole refresh; a create (`exact`) asks for the object itself, which
    /// may be newer than any listing. `Err(())` after pushing an error.
    pub(crate) async fn owner(
        self,
        c: &Client,
        id: &str,
        project: Option<&str>,
        exact: bool,
        diags: &mut Diagnostics,
    ) -> Result<Option<Owner>, ()> {
        if let Some(p) = project.filter(|p| !p.is_empty()) {
            return Ok(project_id(c, Some(p), diags).await?.map(|id| Owner {
                id,
                name: Some(p.to_string()).filter(|p| !is_uuid(p)),
            }));
        }
        let all = Params::new()
            .with("projectid", "-1")
            .with("listall", "true");
        let owner_of = |projectid: &Option<String>, project: &Option<String>| {
            projectid.clone().map(|id| Owner {
                id,
                name: project.clone(),
            })
        };
        // Who owns an address or network never changes, so on a create one
        // lookup per object serves every rule set on it (the mesostack module
        // puts two on one address per node). `Some(None)`: found, no project.
        let found = match (self, exact) {
            (Scope::IpAddress, true) => c
                .refresh
                .fact(&format!("owner|ipaddressid={id}"), || async {
                    find_by_id::<PublicIpAddress>(c, "listPublicIpAddresses", "publicipaddress", id)
                        .await
                        .map(|x| x.map(|x| owner_of(&x.projectid, &x.project)))
                })
                .await
                .map(Option::flatten),
            (Scope::Network, true) => c
                .refresh
                .fact(&format!("owner|networkid={id}"), || async {
                    find_by_id::<Network>(c, "listNetworks", "network", id)
                        .await
                        .map(|x| x.map(|x| owner_of(&x.projectid, &x.project)))
                })
                .await
                .map(Option::flatten),
            (Scope::IpAddress, false) => c
                .refresh
                .listing("projectid=-1", || {
                    bounded(c, c.timeout, c.api.list_public_ip_addresses(&all))
                })
                .await
                .map(|l| {
                    l.iter()
                        .find(|x| x.id == id)
                        .and_then(|x| owner_of(&x.projectid, &x.project))
                }),
            (Scope::Network, false) => c
                .refresh
                .listing("projectid=-1", || {
                    bounded(c, c.timeout, c.api.list_networks(&all))
                })
                .await
                .map(|l| {
                    l.iter()
                        .find(|x| x.id == id)
                        .and_then(|x| owner_of(&x.projectid, &x.project))
                }),
        };
        found.map_err(|e| {
            diags.push(e.diagnostic("looking up the project of the rules' scope", None, "read"))
        })
    }

    /// Whether the IP address or network `id` still exists (asked only when
    /// a managed rule set found no rules: then nothing else tells). Errors
    /// other than "not found" count as existing, so a flaky call never drops
    /// state. `project` is the owning project's id, as lists need it.
    pub(crate) async fn exists(self, c: &Client, id: &str, project: Option<&str>) -> bool {
        let mut p = Params::new().with("id", id).with("listall", "true");
        p.set_opt("projectid", project);
        let found = match self {
            Scope::IpAddress => bounded(c, c.timeout, c.api.list_public_ip_addresses(&p))
                .await
                .map(|l| !l.is_empty()),
            Scope::Network => bounded(c, c.timeout, c.api.list_networks(&p))
                .await
                .map(|l| !l.is_empty()),
        };
        match found {
            Ok(f) => f,
            Err(e) => !e.is_not_found(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_cidr_and_port_entries_are_errors_on_the_block() {
        let mut d = Diagnostics::default();
        check_cidr_entries(["10.0.0.0/8", "10.0.0.0"], "rule", &mut d);
        check_port_entries(["80", "90-80", "22-25"], "rule", &mut d);
        assert_eq!(d.0.len(), 2, "{d:?}");
        assert_eq!(d.0[0].summary, "\"10.0.0.0\" is not a CIDR");
        assert_eq!(d.0[1].summary, "\"90-80\" is not a valid port value");
        assert!(d
            .0
            .iter()
            .all(|x| x.attribute == Some(tfplugin5::AttributePath::attr("rule"))));
    }

    #[test]
    fn prior_rules_serve_each_wanted_unit_once_and_the_rest_go() {
        // blocks want units (port numbers); prior rules have ids
        let blocks = vec![vec![80, 443], vec![80]];
        let prior = vec![
            (80, "a".to_string()),
            (22, "b".to_string()),
            (80, "c".to_string()),
        ];
        let (wanted, doomed) = match_prior(
            &blocks,
            |b| b.clone(),
            prior,
            |w, h| w == h,
            |_, id| id.to_string(),
        );
        assert_eq!(
            wanted,
            vec![
                (0, 80, Some("a".to_string())),
                (0, 443, None),
                (1, 80, Some("c".to_string())),
            ]
        );
        assert_eq!(doomed, vec![(22, "b".to_string())]);
        assert_eq!(missing(&wanted), vec![(1, 443)]);
    }

    #[test]
    fn ports_and_cidrs() {
        assert_eq!(parse_port_range("80"), Some((80, 80)));
        assert_eq!(parse_port_range("80-90"), Some((80, 90)));
        assert_eq!(parse_port_range("1-65535"), Some((1, 65535)));
        for bad in [
            "0", "65536", "90-80", "", "-", "a", "80-", " 80", "+80", "1-2-3",
        ] {
            assert_eq!(parse_port_range(bad), None, "{bad}");
        }
        assert!(is_cidr("0.0.0.0/0") && is_cidr("10.1.0.0/16") && is_cidr("::/0"));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "300.0.0.0/8",
            "10.0.0.0/x",
            "abc/8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }
}
