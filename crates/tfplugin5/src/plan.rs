//! The generic part of planning, so resources only add what is special to
//! them (see `Resource::modify_plan`):
//!
//! - on create, computed attributes that configuration leaves unset become
//!   unknown ("known after apply"); defaults fill unset attributes;
//! - on update, Terraform's proposed state already keeps prior values of
//!   unset computed attributes, and we keep them;
//! - a changed `force_new` attribute (or block) lands in `requires_replace`,
//!   and then every computed, unconfigured attribute becomes unknown again
//!   because a new object will be created.
//!
//! All functions are pure: values in, values out.

use std::collections::BTreeMap;

use crate::{
    schema::{Block, NestedBlock, Nesting},
    AttributePath, Value,
};

/// Outcome of [`plan_change`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The planned new state (null = destroy).
    pub planned: Value,
    /// Paths whose change forces replacement.
    pub requires_replace: Vec<AttributePath>,
}

/// Plans a change from `prior` (null on create) towards Terraform's
/// `proposed` new state (null on destroy), given the raw `config`.
pub fn plan_change(block: &Block, prior: &Value, proposed: &Value, config: &Value) -> Plan {
    if proposed.is_null() {
        return Plan {
            planned: Value::Null,
            requires_replace: vec![],
        };
    }
    if prior.is_null() {
        return Plan {
            planned: normalize(block, &fill(block, proposed, config, None)),
            requires_replace: vec![],
        };
    }
    let planned = normalize(block, &fill(block, proposed, config, Some(prior)));
    let requires_replace = replace_paths(block, prior, &planned);
    let planned = if requires_replace.is_empty() {
        planned
    } else {
        normalize(block, &fill(block, &planned, config, None))
    };
    Plan {
        planned,
        requires_replace,
    }
}

/// Fills computed and defaulted attributes of one object. `prior = None`
/// means the object will be created.
fn fill(block: &Block, proposed: &Value, config: &Value, prior: Option<&Value>) -> Value {
    let Value::Object(_) = proposed else {
        return proposed.clone();
    };
    let mut out = BTreeMap::new();
    for a in &block.attributes {
        let prop = proposed.get(&a.name);
        let v = if !config.get(&a.name).is_null() {
            prop.clone()
        } else if let Some(d) = &a.default {
            d.clone()
        } else if a.computed {
            match prior {
                None => Value::Unknown,
                // Terraform proposes prior values for top-level attributes;
                // inside set elements we must find them ourselves.
                Some(p) if prop.is_null() => p.get(&a.name).clone(),
                Some(_) => prop.clone(),
            }
        } else {
            prop.clone()
        };
        out.insert(a.name.clone(), v);
    }
    for b in &block.blocks {
        let pv = proposed.get(&b.name);
        let cv = config.get(&b.name);
        let prior_v = prior.map(|p| p.get(&b.name));
        let v = match (b.nesting, pv) {
            (_, Value::Null | Value::Unknown) => pv.clone(),
            (Nesting::Single | Nesting::Group, _) => {
                fill(&b.block, pv, cv, prior_v.filter(|p| !p.is_null()))
            }
            (Nesting::List, Value::List(items)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let c = cv.as_slice().and_then(|s| s.get(i)).unwrap_or(&Value::Null);
                        let p = prior_v.and_then(|p| p.as_slice()).and_then(|s| s.get(i));
                        fill(&b.block, e, c, p)
                    })
                    .collect(),
            ),
            (Nesting::Set, Value::Set(items)) => Value::Set(
                items
                    .iter()
                    .map(|e| {
                        let p = prior_v
                            .and_then(|p| p.as_slice())
                            .and_then(|s| s.iter().find(|pe| same_config(&b.block, pe, e)));
                        fill(&b.block, e, e, p)
                    })
                    .collect(),
            ),
            (Nesting::Map, Value::Map(items)) => Value::Map(
                items
                    .iter()
                    .map(|(k, e)| {
                        let p = prior_v.and_then(|p| p.as_map()).and_then(|m| m.get(k));
                        (k.clone(), fill(&b.block, e, cv.get(k), p))
                    })
                    .collect(),
            ),
            _ => pv.clone(),
        };
        out.insert(b.name.clone(), v);
    }
    Value::Object(out)
}

/// Whether two set elements agree on every attribute configuration sets
/// (non-computed ones), i.e. describe the same configured element.
fn same_config(block: &Block, a: &Value, b: &Value) -> bool {
    block
        .attributes
        .iter()
        .filter(|at| !at.computed)
        .all(|at| a.get(&at.name) == b.get(&at.name))
        && block
            .blocks
            .iter()
            .all(|nb| a.get(&nb.name) == b.get(&nb.name))
}

fn replace_paths(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    let mut out = Vec::new();
    for a in block.attributes.iter().filter(|a| a.force_new) {
        if prior.get(&a.name) != planned.get(&a.name) {
            out.push(AttributePath::attr(&a.name));
        }
    }
    for b in &block.blocks {
        let (pv, nv) = (prior.get(&b.name), planned.get(&b.name));
        let changed = if b.force_new {
            pv != nv
        } else if has_force_new(&b.block) {
            project_nested(b, pv) != project_nested(b, nv)
        } else {
            false
        };
        if changed {
            out.push(AttributePath::attr(&b.name));
        }
    }
    out
}

fn has_force_new(block: &Block) -> bool {
    block.attributes.iter().any(|a| a.force_new)
        || block
            .blocks
            .iter()
            .any(|b| b.force_new || has_force_new(&b.block))
}

/// Keeps only the force-new parts of a nested block value.
fn project_nested(b: &NestedBlock, v: &Value) -> Value {
    match v {
        Value::List(items) => Value::List(items.iter().map(|e| project(&b.block, e)).collect()),
        Value::Set(items) => Value::set(items.iter().map(|e| project(&b.block, e))),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, e)| (k.clone(), project(&b.block, e)))
                .collect(),
        ),
        other => project(&b.block, other),
    }
}

fn project(block: &Block, v: &Value) -> Value {
    let Value::Object(_) = v else {
        return v.clone();
    };
    let mut out = BTreeMap::new();
    for a in block.attributes.iter().filter(|a| a.force_new) {
        out.insert(a.name.clone(), v.get(&a.name).clone());
    }
    for b in &block.blocks {
        if b.force_new {
            out.insert(b.name.clone(), v.get(&b.name).clone());
        } else if has_force_new(&b.block) {
            out.insert(b.name.clone(), project_nested(b, v.get(&b.name)));
        }
    }
    Value::Object(out)
}

/// Brings an object into the exact shape of its block: every attribute
/// present (null if missing), list/set/map blocks never null (Terraform
/// represents "no blocks" as an empty collection), group blocks never null.
pub fn normalize(block: &Block, v: &Value) -> Value {
    let Value::Object(_) = v else {
        return v.clone();
    };
    let mut out = BTreeMap::new();
    for a in &block.attributes {
        out.insert(a.name.clone(), v.get(&a.name).clone());
    }
    for b in &block.blocks {
        let bv = v.get(&b.name);
        let nv = match (b.nesting, bv) {
            (_, Value::Unknown) => Value::Unknown,
            (Nesting::List, Value::Null) => Value::List(vec![]),
            (Nesting::Set, Value::Null) => Value::Set(vec![]),
            (Nesting::Map, Value::Null) => Value::Map(BTreeMap::new()),
            (Nesting::Group, Value::Null) => normalize(&b.block, &Value::Object(BTreeMap::new())),
            (Nesting::Single, Value::Null) => Value::Null,
            (_, Value::List(items)) => {
                Value::List(items.iter().map(|e| normalize(&b.block, e)).collect())
            }
            (_, Value::Set(items)) => {
                Value::Set(items.iter().map(|e| normalize(&b.block, e)).collect())
            }
            (_, Value::Map(m)) => Value::Map(
                m.iter()
                    .map(|(k, e)| (k.clone(), normalize(&b.block, e)))
                    .collect(),
            ),
            (_, other) => normalize(&b.block, other),
        };
        out.insert(b.name.clone(), nv);
    }
    Value::Object(out)
}

/// Paths of unknown values left in `v` (a state after apply must have none).
pub fn unknown_paths(v: &Value) -> Vec<AttributePath> {
    fn walk(v: &Value, path: &AttributePath, out: &mut Vec<AttributePath>) {
        match v {
            Value::Unknown => out.push(path.clone()),
            Value::Object(m) => {
                for (k, e) in m {
                    walk(e, &path.clone().then(k), out);
                }
            }
            Value::Map(m) => {
                for (k, e) in m {
                    walk(e, &path.clone().key(k), out);
                }
            }
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                for (i, e) in items.iter().enumerate() {
                    walk(e, &path.clone().index(i as i64), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &AttributePath::default(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{schema::Attribute, Type};

    fn block() -> Block {
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(Attribute::optional("display_name", Type::String))
            .attribute(Attribute::optional_computed("ip_address", Type::String))
            .attribute(Attribute::optional("expunge", Type::Bool).default(false))
            .block(NestedBlock::set(
                "rule",
                Block::new()
                    .attribute(Attribute::required("port", Type::Number))
                    .attribute(Attribute::computed("uuid", Type::String)),
            ))
            .block(NestedBlock::list(
                "disk",
                Block::new().attribute(Attribute::required("size", Type::Number).force_new()),
            ))
    }

    fn config(name: &str, display: Option<&str>, ports: &[i64]) -> Value {
        Value::object([
            ("id", Value::Null),
            ("name", name.into()),
            ("display_name", display.into()),
            ("ip_address", Value::Null),
            ("expunge", Value::Null),
            (
                "rule",
                Value::set(
                    ports
                        .iter()
                        .map(|p| Value::object([("port", Value::from(*p)), ("uuid", Value::Null)])),
                ),
            ),
            ("disk", Value::List(vec![])),
        ])
    }

    #[test]
    fn create_marks_unset_computed_unknown_and_applies_defaults() {
        let cfg = config("vm1", Some("web"), &[22]);
        let plan = plan_change(&block(), &Value::Null, &cfg, &cfg);
        let p = &plan.planned;
        assert!(p.get("id").is_unknown());
        assert!(p.get("ip_address").is_unknown());
        assert_eq!(p.get_bool("expunge"), Some(false));
        assert_eq!(p.get_str("display_name"), Some("web"));
        let rule = &p.get_slice("rule")[0];
        assert!(rule.get("uuid").is_unknown());
        assert_eq!(rule.get_i64("port"), Some(22));
        assert!(plan.requires_replace.is_empty());
    }

    fn prior_state() -> Value {
        Value::object([
            ("id", "42".into()),
            ("name", "vm1".into()),
            ("display_name", "web".into()),
            ("ip_address", "10.0.0.5".into()),
            ("expunge", false.into()),
            (
                "rule",
                Value::set([Value::object([
                    ("port", Value::from(22i64)),
                    ("uuid", "r1".into()),
                ])]),
            ),
            ("disk", Value::list([Value::object([("size", 10i64)])])),
        ])
    }

    /// What Terraform core proposes: config, with prior values for unset
    /// computed attributes.
    fn proposed_from(prior: &Value, cfg: &Value) -> Value {
        let mut p = cfg.clone();
        for k in ["id", "ip_address", "expunge"] {
            if cfg.get(k).is_null() {
                p.set_attr(k, prior.get(k).clone());
            }
        }
        p
    }

    #[test]
    fn in_place_update_keeps_computed_prior_values() {
        let prior = prior_state();
        let mut cfg = config("vm1", Some("web2"), &[22, 80]);
        cfg.set_attr("disk", Value::list([Value::object([("size", 10i64)])]));
        let proposed = proposed_from(&prior, &cfg);
        let plan = plan_change(&block(), &prior, &proposed, &cfg);
        assert!(
            plan.requires_replace.is_empty(),
            "{:?}",
            plan.requires_replace
        );
        let p = &plan.planned;
        assert_eq!(p.get_str("id"), Some("42"));
        assert_eq!(p.get_str("ip_address"), Some("10.0.0.5"));
        assert_eq!(p.get_str("display_name"), Some("web2"));
        // the kept rule gets its uuid back, the new one is unknown
        let rules = p.get_slice("rule");
        let r22 = rules
            .iter()
            .find(|r| r.get_i64("port") == Some(22))
            .unwrap();
        let r80 = rules
            .iter()
            .find(|r| r.get_i64("port") == Some(80))
            .unwrap();
        assert_eq!(r22.get_str("uuid"), Some("r1"));
        assert!(r80.get("uuid").is_unknown());
    }

    #[test]
    fn no_change_plans_prior_state() {
        let prior = prior_state();
        let mut cfg = config("vm1", Some("web"), &[22]);
        cfg.set_attr("disk", Value::list([Value::object([("size", 10i64)])]));
        let proposed = proposed_from(&prior, &cfg);
        let plan = plan_change(&block(), &prior, &proposed, &cfg);
        assert_eq!(plan.planned, prior);
        assert!(plan.requires_replace.is_empty());
    }

    #[test]
    fn force_new_change_requires_replace_and_unknowns_computed() {
        let prior = prior_state();
        let mut cfg = config("vm2", Some("web"), &[22]);
        cfg.set_attr("disk", Value::list([Value::object([("size", 20i64)])]));
        let proposed = proposed_from(&prior, &cfg);
        let plan = plan_change(&block(), &prior, &proposed, &cfg);
        assert_eq!(
            plan.requires_replace,
            vec![AttributePath::attr("name"), AttributePath::attr("disk")]
        );
        assert!(plan.planned.get("id").is_unknown());
        assert!(plan.planned.get("ip_address").is_unknown());
        assert_eq!(plan.planned.get_str("name"), Some("vm2"));
    }

    #[test]
    fn unknown_config_value_on_force_new_attribute_replaces() {
        let prior = prior_state();
        let mut cfg = config("vm1", Some("web"), &[22]);
        cfg.set_attr("name", Value::Unknown);
        cfg.set_attr("disk", Value::list([Value::object([("size", 10i64)])]));
        let proposed = proposed_from(&prior, &cfg);
        let plan = plan_change(&block(), &prior, &proposed, &cfg);
        assert_eq!(plan.requires_replace, vec![AttributePath::attr("name")]);
    }

    #[test]
    fn destroy_plans_null() {
        let plan = plan_change(&block(), &prior_state(), &Value::Null, &Value::Null);
        assert!(plan.planned.is_null());
    }

    #[test]
    fn normalize_fills_shape_and_unknown_paths_finds_leftovers() {
        let v = normalize(&block(), &Value::object([("id", "1")]));
        assert_eq!(v.get("rule"), &Value::Set(vec![]));
        assert_eq!(v.get("disk"), &Value::List(vec![]));
        assert!(v.as_map().unwrap().contains_key("display_name"));
        let mut s = prior_state();
        s.set_attr("ip_address", Value::Unknown);
        assert_eq!(unknown_paths(&s), vec![AttributePath::attr("ip_address")]);
    }
}
