//! Helpers shared by every resource and data source: name-or-id resolution
//! that keeps the user's spelling, CloudStack errors turned into
//! diagnostics with the attribute and the fix, operation timeouts
//! (`timeouts { ... }` blocks and Ctrl-C), tags, import ids.

use std::{collections::BTreeMap, future::Future, time::Duration};

use cloudstack::{resolve::is_uuid, Params, Resource as Kind};
use tfplugin5::{timeouts, AttributePath, Diagnostic, Diagnostics, Value};

use crate::provider::Client;

/// Why an operation did not finish.
#[derive(Debug)]
pub enum OpError {
    /// CloudStack (or the network) said no.
    Api(cloudstack::Error),
    /// The operation outlived its timeout.
    TimedOut(Duration),
    /// Terraform asked us to stop (Ctrl-C).
    Stopped,
}

impl From<cloudstack::Error> for OpError {
    fn from(e: cloudstack::Error) -> OpError {
        OpError::Api(e)
    }
}

impl OpError {
    /// Whether the error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpError::Api(e) if e.is_not_found())
    }

    /// Whether the object may exist although the call failed (timeout,
    /// interruption, unclear network failure): worth looking it up.
    pub fn may_exist(&self) -> bool {
        match self {
            OpError::Api(e) => {
                matches!(
                    e,
                    cloudstack::Error::JobTimeout { .. } | cloudstack::Error::Unconfirmed { .. }
                ) || e.may_have_applied()
            }
            OpError::TimedOut(_) | OpError::Stopped => true,
        }
    }

    /// The diagnostic for a failed `action` (e.g. "creating instance web-1"),
    /// pinned to `attr` when the error is about a value the user gave.
    pub fn diagnostic(&self, action: &str, attr: Option<&str>, timeout_op: &str) -> Diagnostic {
        match self {
            OpError::Api(e) => api_diagnostic(e, action, attr, timeout_op),
            OpError::TimedOut(d) => Diagnostic::error(
                format!("Timed out {action}"),
                format!(
                    "CloudStack did not finish within {}s. Raise the resource's \
                     `timeouts {{ {timeout_op} = \"30m\" }}` or the provider's `timeout` \
                     (seconds), then apply again.",
                    d.as_secs()
                ),
            ),
            OpError::Stopped => Diagnostic::error(
                format!("Interrupted while {action}"),
                "Terraform asked the provider to stop; the CloudStack job may still be running.",
            ),
        }
    }
}

/// The attribute a CloudStack error text is about: the first `(word,
/// attribute)` whose word the text mentions (case-insensitive), so a 431
/// about the IP address points at `ip_address`, not at some other argument.
pub fn attr_in_text<'a>(e: &OpError, words: &[(&str, &'a str)]) -> Option<&'a str> {
    let OpError::Api(e) = e else { return None };
    let text = e.to_string().to_ascii_lowercase();
    words
        .iter()
        .find(|(w, _)| text.contains(&w.to_ascii_lowercase()))
        .map(|(_, a)| *a)
}

/// Turns a CloudStack error into a diagnostic saying what to fix.
pub fn api_diagnostic(
    e: &cloudstack::Error,
    action: &str,
    attr: Option<&str>,
    timeout_op: &str,
) -> Diagnostic {
    use cloudstack::Error as E;
    let summary = format!("Error {action}");
    let (detail, pin) = match e {
        _ if e.is_auth() => (
            format!(
                "{e}\n\nCloudStack rejected the credentials: check the provider's api_key and \
                 secret_key (or CLOUDSTACK_API_KEY / CLOUDSTACK_SECRET_KEY)."
            ),
            false,
        ),
        E::NotFound { .. } | E::Ambiguous { .. } => (format!("{e}"), true),
        E::JobTimeout { .. } => (
            format!(
                "{e}\n\nRaise the resource's `timeouts {{ {timeout_op} = \"30m\" }}` or the \
                 provider's `timeout` (seconds), then apply again."
            ),
            false,
        ),
        E::Unconfirmed { .. } => (
            format!(
                "{e}\n\nThe outcome is unknown; run `terraform apply` again: the object is looked \
                 up before anything is created again."
            ),
            false,
        ),
        E::Transport { .. } | E::Http { .. } => (
            format!("{e}\n\nCheck the provider's api_url and the network, then apply again."),
            false,
        ),
        _ if e.is_param_error() => (format!("{e}"), true),
        _ => (format!("{e}"), false),
    };
    let d = Diagnostic::error(summary, detail);
    match attr {
        Some(a) if pin => d.at(AttributePath::attr(a)),
        _ => d,
    }
}

/// The timeout of operation `op` ("create", "update", "delete") from the
/// resource's `timeouts` block, else the provider's `timeout`.
pub fn op_timeout(c: &Client, value: &Value, op: &str, diags: &mut Diagnostics) -> Duration {
    match timeouts::timeout(value, op, c.timeout) {
        Ok(d) => d,
        Err(d) => {
            diags.push(d);
            c.timeout
        }
    }
}

/// Runs `fut` (built with `c.api_with_timeout(limit)`), ending it when
/// `limit` (plus a grace for the last poll) passes or Terraform stops us.
pub async fn bounded<T, F>(c: &Client, limit: Duration, fut: F) -> Result<T, OpError>
where
    F: Future<Output = Result<T, cloudstack::Error>>,
{
    let grace = Duration::from_secs(30);
    tokio::select! {
        _ = c.stop.cancelled() => Err(OpError::Stopped),
        r = tokio::time::timeout(limit + grace, fut) => match r {
            Ok(r) => r.map_err(OpError::Api),
            Err(_) => Err(OpError::TimedOut(limit)),
        },
    }
}

fn cache_key(kind: Kind, name: &str, scope: &Params) -> String {
    let scope: Vec<String> = scope.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}|{}|{}", kind.label(), name, scope.join("&"))
}

/// Resolves the name or id the user wrote in `attr` to an id. Names match
/// exactly; an unknown or ambiguous name gives an error on `attr` listing
/// the candidates (e.g. `no zone named "zone01"; available: zone001`).
/// Results are remembered for the life of the provider process, so the
/// plan-time check and the apply share one lookup.
pub async fn resolve(
    c: &Client,
    kind: Kind,
    attr: &str,
    value: &str,
    scope: &Params,
    diags: &mut Diagnostics,
) -> Option<String> {
    let obj = resolve_object(c, kind, attr, value, scope, diags).await?;
    match obj.get("id") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
        None => None,
    }
}

/// [`resolve`], returning the whole CloudStack object (e.g. a zone's
/// `networktype`).
pub async fn resolve_object(
    c: &Client,
    kind: Kind,
    attr: &str,
    value: &str,
    scope: &Params,
    diags: &mut Diagnostics,
) -> Option<serde_json::Value> {
    // A name's id is a fact for the life of the process: the plan-time check
    // and the apply, and every instance naming the same template, share one
    // lookup (single flight).
    let looked_up = c
        .refresh
        .fact(&cache_key(kind, value, scope), || async {
            bounded(c, c.timeout, c.api.resolve(kind, value, scope))
                .await
                .map(Some)
        })
        .await;
    match looked_up {
        Ok(found) => found,
        Err(OpError::Api(e @ cloudstack::Error::NotFound { .. })) => {
            let detail = match &e {
                cloudstack::Error::NotFound { candidates, .. } if !candidates.is_empty() => {
                    format!("{e}. Use one of these names (exact spelling) or an id.",)
                }
                _ => format!("{e}."),
            };
            diags.push(
                Diagnostic::error(format!("Unknown {} {value:?}", kind.label()), detail)
                    .at(AttributePath::attr(attr)),
            );
            None
        }
        Err(OpError::Api(e @ cloudstack::Error::Ambiguous { .. })) => {
            diags.push(
                Diagnostic::error(
                    format!("Ambiguous {} {value:?}", kind.label()),
                    format!("{e}. Use the id of the one you mean."),
                )
                .at(AttributePath::attr(attr)),
            );
            None
        }
        Err(e) => {
            diags.push(e.diagnostic(
                &format!("looking up {} {value:?}", kind.label()),
                Some(attr),
                "create",
            ));
            None
        }
    }
}

/// The project id for a `project` attribute (name or id), or `None` when it
/// is unset or empty; `Err(())` after pushing an error naming `project`.
pub async fn project_id(
    c: &Client,
    project: Option<&str>,
    diags: &mut Diagnostics,
) -> Result<Option<String>, ()> {
    match project.filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => match resolve_project(c, "project", p, diags).await {
            Some(id) => Ok(Some(id)),
            None => Err(()),
        },
    }
}

/// Resolves a project name or id (`listProjects`; not in the client's
/// resolver). Unknown names list the candidates.
pub async fn resolve_project(
    c: &Client,
    attr: &str,
    value: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    if is_uuid(value) || value == "-1" {
        return Some(value.to_string());
    }
    let name = |v: &serde_json::Value| {
        v.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string()
    };
    // one listing serves the reads of a refresh (every rule set naming its
    // project); a name it lacks is asked again (a project created since)
    let p = Params::new().with("listall", "true");
    let fetch = || {
        bounded(
            c,
            c.timeout,
            c.api.list_all_values("listProjects", "project", &p),
        )
    };
    let mut listed = c.refresh.listing("listProjects", fetch).await;
    if matches!(&listed, Ok(items) if !items.iter().any(|v| name(v) == value)) {
        listed = fetch().await.map(std::sync::Arc::new);
    }
    match listed {
        Ok(items) => {
            let hits: Vec<&serde_json::Value> = items.iter().filter(|v| name(v) == value).collect();
            match hits.as_slice() {
                [one] => one.get("id").and_then(|i| i.as_str()).map(str::to_string),
                [] => {
                    let names: Vec<String> = items.iter().map(name).collect();
                    diags.attribute_error(
                        attr,
                        format!("Unknown project {value:?}"),
                        format!(
                            "available: {}",
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    );
                    None
                }
                _ => {
                    diags.attribute_error(
                        attr,
                        format!("Ambiguous project {value:?}"),
                        "several projects have this name; use the id",
                    );
                    None
                }
            }
        }
        Err(e) => {
            diags.push(e.diagnostic("listing projects", Some(attr), "create"));
            None
        }
    }
}

/// The value to keep in state for an attribute the user may have written as
/// a name or an id: their spelling when it still denotes the object (no
/// diff), else the object's current name (drift shows as a change).
pub fn keep_spelling(prior: Option<&str>, name: Option<&str>, id: &str) -> Value {
    Value::from(spelling(prior, name, id))
}

/// [`keep_spelling`] for typed models.
pub fn spelling(prior: Option<&str>, name: Option<&str>, id: &str) -> String {
    match (prior, name) {
        (Some(p), _) if p == id => id.to_string(),
        (Some(p), Some(n)) if p == n || p.eq_ignore_ascii_case(n) => p.to_string(),
        (Some(p), _) if is_uuid(p) => id.to_string(),
        (_, Some(n)) => n.to_string(),
        (_, None) => id.to_string(),
    }
}

/// [`keep_spelling`] for a typed model's field: `prior` when CloudStack
/// names no object (`id` is `None`).
pub fn spelled(prior: Option<String>, name: Option<&str>, id: Option<&str>) -> Option<String> {
    match id {
        Some(id) => keep_spelling(prior.as_deref(), name, id)
            .as_str()
            .map(str::to_string),
        None => prior,
    }
}

/// CloudStack's embedded tags as a sorted map (what typed models hold).
pub fn tags_map(tags: &[cloudstack::model::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect()
}

/// Brings the tags of object `id` from `old` to `new`: deletes removed or
/// changed keys, then creates new or changed ones (`deleteTags`/`createTags`).
pub async fn update_tags(
    c: &Client,
    limit: Duration,
    resource_type: &str,
    id: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), OpError> {
    let remove: Vec<(&String, &String)> = old
        .iter()
        .filter(|(k, v)| new.get(*k) != Some(*v))
        .collect();
    let create: Vec<(String, String)> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let api = c.api_with_timeout(limit);
    if !remove.is_empty() {
        let mut p = Params::new()
            .with("resourcetype", resource_type)
            .with("resourceids", id);
        for (i, (k, v)) in remove.iter().enumerate() {
            p.set(format!("tags[{i}].key"), k.as_str());
            p.set(format!("tags[{i}].value"), v.as_str());
        }
        bounded(c, limit, api.request_async("deleteTags", &p)).await?;
    }
    if !create.is_empty() {
        bounded(
            c,
            limit,
            api.create_tags(resource_type, &[id.to_string()], &create),
        )
        .await?;
    }
    Ok(())
}

/// Terraform requires the state after apply to equal every value the plan
/// already knew. CloudStack sometimes normalises or ignores an argument; the
/// planned value is kept then (a later refresh shows the real value as drift).
pub fn honor_plan(planned: &Value, mut result: Value) -> Value {
    if result.is_null() {
        return result;
    }
    if let (Some(p), Value::Object(r)) = (planned.as_map(), &mut result) {
        for (k, pv) in p {
            if pv.is_fully_known() && r.get(k) != Some(pv) {
                tracing::debug!(attribute = %k, "keeping the planned value");
                r.insert(k.clone(), pv.clone());
            }
        }
    }
    result
}

/// What `create`/`update` return: [`honor_plan`] applied to `state`,
/// unless the operation reported an error (then the partial state as is,
/// so Terraform records what exists).
pub fn planned_unless_failed(planned: &Value, state: Value, diags: &Diagnostics) -> Value {
    if diags.has_errors() {
        state
    } else {
        honor_plan(planned, state)
    }
}

/// Sets every unknown value in `v` (at any depth) to null: what a state
/// handed back after a failed create must look like.
pub fn unknowns_to_null(v: &mut Value) {
    match v {
        Value::Unknown => *v = Value::Null,
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            items.iter_mut().for_each(unknowns_to_null)
        }
        Value::Map(m) | Value::Object(m) => m.values_mut().for_each(unknowns_to_null),
        _ => {}
    }
}

/// The state to return from a create that failed after CloudStack accepted
/// it (`command`'s answer named the new object's id in `accepted`): see
/// [`keep_tainted`]. Null when CloudStack accepted nothing.
pub fn accepted_state(
    planned: &Value,
    accepted: &cloudstack::AcceptedLog,
    command: &str,
    diags: &mut Diagnostics,
) -> Value {
    match accepted.last_id(command) {
        Some(id) => keep_tainted(planned, &id, diags),
        None => Value::Null,
    }
}

/// `planned` with `id` and nothing unknown, for a create that failed after
/// the object `id` came (or may have come) into being: Terraform records it
/// as tainted, so the next apply replaces it (a refresh drops it if it does
/// not exist) and `terraform destroy` removes it, instead of leaving it
/// behind. Adds to the error diagnostic already pushed.
pub fn keep_tainted(planned: &Value, id: &str, diags: &mut Diagnostics) -> Value {
    let mut state = planned.clone();
    state.set_attr("id", id);
    unknowns_to_null(&mut state);
    let note = format!(
        "\n\nCloudStack may have created it (id {id}): Terraform keeps it in state as \
         tainted, so the next apply replaces it and `terraform destroy` removes it."
    );
    match diags
        .0
        .iter_mut()
        .rev()
        .find(|d| d.severity == tfplugin5::Severity::Error)
    {
        Some(d) => d.detail.push_str(&note),
        None => diags.error("Create not confirmed", note.trim_start().to_string()),
    }
    state
}

/// The object a lookup by id (`what` e.g. "network") found: `None` when it
/// is gone (callers return null so Terraform drops it) or when the lookup
/// failed, after pushing a "reading <what> <id>" diagnostic for `op`.
pub fn found<T>(
    looked_up: Result<Option<T>, OpError>,
    what: &str,
    id: &str,
    op: &str,
    diags: &mut Diagnostics,
) -> Option<T> {
    match looked_up {
        Ok(obj) => obj,
        Err(e) => {
            diags.push(e.diagnostic(&format!("reading {what} {id}"), None, op));
            None
        }
    }
}

/// A delete's outcome: an object already gone is done (a retried delete, or one
/// removed outside Terraform); anything else is reported as `action` (e.g.
/// "deleting volume <id>").
pub fn deleted<T>(result: Result<T, OpError>, action: &str, diags: &mut Diagnostics) {
    match result {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => diags.push(e.diagnostic(action, None, "delete")),
    }
}

/// The object `id` of a `list*` command (`key`: the answer's list name), in
/// the account or any project: CloudStack finds a project's object by id
/// without `projectid` for an admin, and with `projectid=-1` for a project
/// member (which, alone, would hide the account's own objects). `None` when
/// gone; a 431 for an unknown id is gone too.
pub async fn find_by_id<T>(
    c: &Client,
    command: &str,
    key: &str,
    id: &str,
) -> Result<Option<T>, OpError>
where
    T: serde::de::DeserializeOwned + HasId,
{
    let mut p = Params::new().with("id", id).with("listall", "true");
    for attempt in 0..2 {
        if attempt == 1 {
            p.set("projectid", "-1");
        }
        match bounded(c, c.timeout, c.api.list_all::<T>(command, key, &p)).await {
            Ok(v) => {
                if let Some(x) = v.into_iter().find(|x| x.id() == id) {
                    return Ok(Some(x));
                }
            }
            Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A CloudStack object with an id (what [`find_by_id`] matches on).
pub trait HasId {
    /// The object's id.
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ty),*) => {$(impl HasId for $t { fn id(&self) -> &str { &self.id } })*};
}
has_id!(
    cloudstack::model::Network,
    cloudstack::model::PublicIpAddress,
    cloudstack::model::LoadBalancerRule,
    cloudstack::model::NetworkAclList,
    cloudstack::model::Vpc
);

/// Splits an import id `project/id` (the Go provider's syntax) into its parts.
pub fn split_import_id(id: &str) -> (Option<&str>, &str) {
    match id.split_once('/') {
        Some((p, rest)) if !p.is_empty() && !rest.is_empty() => (Some(p), rest),
        _ => (None, id),
    }
}

/// The state `terraform import` starts from: the id (`<project>/<id>` sets
/// `project` too) plus `defaults` for attributes a read does not fill.
pub fn import_state(import_id: &str, defaults: &[(&str, Value)]) -> Vec<Value> {
    let (project, id) = split_import_id(import_id);
    let mut v = Value::object([("id", id)]);
    if let Some(p) = project {
        v.set_attr("project", p);
    }
    for (attr, value) in defaults {
        v.set_attr(attr, value.clone());
    }
    vec![v]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_is_kept() {
        let id = "5ea72245-fbe5-4646-9a88-277b81facfbe";
        assert_eq!(
            keep_spelling(Some("zone001"), Some("zone001"), id),
            Value::from("zone001")
        );
        assert_eq!(
            keep_spelling(Some(id), Some("zone001"), id),
            Value::from(id)
        );
        // renamed behind Terraform's back: the new name shows as a change
        assert_eq!(
            keep_spelling(Some("zone001"), Some("zone9"), id),
            Value::from("zone9")
        );
        // import: nothing in state yet → the name
        assert_eq!(
            keep_spelling(None, Some("zone001"), id),
            Value::from("zone001")
        );
        assert_eq!(keep_spelling(None, None, id), Value::from(id));
    }

    #[test]
    fn planned_values_win_after_apply() {
        let planned = Value::object([
            ("id", Value::Unknown),
            ("network_domain", "cs.local".into()),
            ("gateway", Value::Unknown),
        ]);
        let result = Value::object([
            ("id", Value::from("n1")),
            ("network_domain", Value::Null),
            ("gateway", "10.0.0.1".into()),
        ]);
        let out = honor_plan(&planned, result);
        assert_eq!(out.get_str("network_domain"), Some("cs.local"));
        assert_eq!(out.get_str("id"), Some("n1"));
        assert_eq!(out.get_str("gateway"), Some("10.0.0.1"));
        assert!(honor_plan(&planned, Value::Null).is_null());
    }

    #[test]
    fn import_ids() {
        assert_eq!(split_import_id("proj/abc"), (Some("proj"), "abc"));
        assert_eq!(split_import_id("abc"), (None, "abc"));
        assert_eq!(split_import_id("/abc"), (None, "/abc"));
        let v = import_state("proj/abc", &[("acl_id", Value::from("none"))]);
        assert_eq!(
            v,
            vec![Value::object([
                ("id", "abc"),
                ("project", "proj"),
                ("acl_id", "none")
            ])]
        );
        assert_eq!(
            import_state("abc", &[]),
            vec![Value::object([("id", "abc")])]
        );
    }

    #[test]
    fn tags_round_trip() {
        let cs = vec![cloudstack::model::Tag {
            key: Some("a".into()),
            value: Some("1".into()),
            ..Default::default()
        }];
        let t = tags_map(&cs);
        assert_eq!(t.get("a").map(String::as_str), Some("1"));
        assert!(tags_map(&[]).is_empty());
    }

    #[test]
    fn errors_name_the_fix() {
        let auth = cloudstack::Error::Api {
            command: "listZones".into(),
            http_status: 401,
            error_code: 401,
            cs_error_code: 0,
            text: "unable to verify user credentials".into(),
        };
        let d = api_diagnostic(&auth, "creating x", Some("zone"), "create");
        assert!(d.detail.contains("secret_key"), "{}", d.detail);
        assert_eq!(d.attribute, None);
        let nf = cloudstack::Error::NotFound {
            kind: "zone",
            name: "zone01".into(),
            candidates: vec!["zone001".into()],
        };
        let d = api_diagnostic(&nf, "creating x", Some("zone"), "create");
        assert_eq!(d.attribute, Some(AttributePath::attr("zone")));
        assert!(d.detail.contains("zone001"));
        let t = OpError::TimedOut(Duration::from_secs(5)).diagnostic("creating x", None, "create");
        assert!(t.detail.contains("timeouts { create"), "{}", t.detail);
    }
}

/// An in-process simulator and a configured [`Client`] for unit tests.
#[cfg(test)]
pub(crate) mod testenv {
    use cloudstack_sim::{Options, Simulator};
    use tfplugin5::CancellationToken;

    use crate::provider::Client;

    /// Seeded objects of the simulator.
    pub(crate) const ZONE_ID: &str = "5ea72245-fbe5-4646-9a88-277b81facfbe";
    pub(crate) const NETWORK_ID: &str = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54";
    pub(crate) const SMALL_OFFERING_ID: &str = "03f15d3e-57cd-41de-afb0-8714c3a3f05a";
    pub(crate) const TEMPLATE_ID: &str = "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5";

    pub(crate) struct Env {
        pub(crate) client: Client,
        pub(crate) sim: Simulator,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    /// Starts a simulator with `opts` and a client for it (job timeout 60 s).
    pub(crate) async fn start(opts: Options) -> Env {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sim = Simulator::new(opts).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(cloudstack_sim::run(listener, sim.clone(), async {
            let _ = rx.await;
        }));
        let mut cfg = cloudstack::Config::new(
            format!("http://{addr}/client/api"),
            cloudstack_sim::DEFAULT_API_KEY,
            cloudstack_sim::DEFAULT_SECRET_KEY,
        );
        cfg.async_timeout = std::time::Duration::from_secs(60);
        let api = cloudstack::Client::new(cfg).unwrap();
        Env {
            client: Client::new(api, CancellationToken::new()),
            sim,
            _stop: tx,
        }
    }

    /// `env`'s client with its own stop signal, fired (as by Ctrl-C) `after` from now:
    /// for tests of creates interrupted while CloudStack runs their job.
    pub(crate) fn stopped_after(env: &Env, after: std::time::Duration) -> Client {
        let mut c = env.client.clone();
        c.stop = CancellationToken::new();
        let stop = c.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            stop.cancel();
        });
        c
    }

    /// A simulator whose `command` (lower-case) jobs take 30 s, and a client that
    /// Terraform stops (Ctrl-C) 0.5 s into its operation: a create CloudStack accepted
    /// is interrupted before its job answers.
    pub(crate) async fn interrupted_client(command: &str) -> (Env, Client) {
        let mut opts = Options::default();
        opts.job_latency
            .per_command
            .insert(command.into(), std::time::Duration::from_secs(30));
        let env = start(opts).await;
        let c = stopped_after(&env, std::time::Duration::from_millis(500));
        (env, c)
    }

    /// What an accepted create interrupted must give: an error saying the object is kept
    /// tainted, and a state with nothing unknown whose id is the one object the simulator
    /// holds (`held`: the ids of that name).
    pub(crate) fn assert_kept_tainted(
        state: &tfplugin5::Value,
        d: &tfplugin5::Diagnostics,
        held: &[String],
    ) {
        assert!(d.has_errors(), "the interruption is reported");
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(state.get_str("id"), Some(held[0].as_str()), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert!(d.0.iter().any(|x| x.detail.contains("tainted")), "{d:?}");
    }

    /// [`start`], plus a VM in the seeded network and a public IP of that
    /// network (what rule resources hang on): `(env, vm id, ip id)`.
    pub(crate) async fn with_vm_and_ip(opts: Options) -> (Env, String, String) {
        let env = start(opts).await;
        let api = &env.client.api;
        let vm = api
            .deploy_virtual_machine(&cloudstack::api::DeployVirtualMachine {
                zone_id: ZONE_ID.into(),
                service_offering_id: SMALL_OFFERING_ID.into(),
                template_id: TEMPLATE_ID.into(),
                name: Some("rules-vm".into()),
                network_ids: vec![NETWORK_ID.into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let ip = api
            .associate_ip_address(&cloudstack::Params::new().with("networkid", NETWORK_ID))
            .await
            .unwrap();
        (env, vm.id, ip.id)
    }

    /// Calls of `command` the simulator answered so far.
    pub(crate) fn calls(sim: &Simulator, command: &str) -> u64 {
        sim.stats()["requests"][command].as_u64().unwrap_or(0)
    }

    /// Mutating requests the simulator answered so far.
    pub(crate) fn mutations(sim: &Simulator) -> u64 {
        let stats = sim.stats();
        stats["requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| {
                        let k = k.to_ascii_lowercase();
                        !(k.starts_with("list") || k.starts_with("query") || k.starts_with("get"))
                    })
                    .map(|(_, v)| v.as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// The key of the fact "the guest network of VM `id`'s default NIC".
fn default_network_key(vm_id: &str) -> String {
    format!("default-network|virtualmachineid={vm_id}")
}

/// Remembers the network of `vm`'s default NIC (from a deploy's answer), so
/// the rules created on the VM next need not look the VM up again. Only this
/// provider could change a VM's default NIC, and it never does.
pub fn learn_default_network(c: &Client, vm: &cloudstack::model::VirtualMachine) {
    if let Some(net) = vm.default_nic().and_then(|n| n.networkid.clone()) {
        c.refresh.know(&default_network_key(&vm.id), net);
    }
}

/// The network of VM `vm_id`'s default NIC (looked up once per process), or
/// `None` when the VM or its NICs cannot be read.
pub async fn default_network(c: &Client, api: &cloudstack::Client, vm_id: &str) -> Option<String> {
    c.refresh
        .fact(&default_network_key(vm_id), || async {
            let vm = api.get_virtual_machine(vm_id).await?;
            Ok::<_, cloudstack::Error>(
                vm.and_then(|vm| vm.default_nic().and_then(|n| n.networkid.clone())),
            )
        })
        .await
        .ok()
        .flatten()
}
