use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;
use crate::{Attribute, NestedBlock};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rule {
    rule_number: Option<i64>,
    cidr_list: Vec<String>,
    protocol: Protocol,
    ports: Option<Vec<String>>,
    uuid: Field<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Acl {
    id: Field<String>,
    name: String,
    display_text: Field<String>,
    enabled: Option<bool>,
    managed: bool,
    size: Option<u32>,
    tags: Option<BTreeMap<String, String>>,
    rule: Vec<Rule>,
    timeouts: Option<Timeouts>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional_computed("display_text", Type::String))
            .attribute(Attribute::optional("enabled", Type::Bool))
            .attribute(Attribute::required("managed", Type::Bool))
            .attribute(Attribute::optional("size", Type::Number))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .block(NestedBlock::set(
                "rule",
                Block::new()
                    .attribute(Attribute::optional_computed("rule_number", Type::Number))
                    .attribute(Attribute::required("cidr_list", Type::set(Type::String)))
                    .attribute(Attribute::required("protocol", Type::String))
                    .attribute(Attribute::optional("ports", Type::set(Type::String)))
                    .attribute(Attribute::computed("uuid", Type::String)),
            ))
            .timeouts(&["create", "delete"]),
    )
}

fn acl() -> Acl {
    Acl {
        id: "a1".to_string().into(),
        name: "web".into(),
        display_text: Field::Unknown,
        enabled: None,
        managed: true,
        size: Some(3),
        tags: Some([("env".to_string(), "prod".to_string())].into()),
        rule: vec![Rule {
            rule_number: Some(10),
            cidr_list: vec!["10.0.0.0/8".into()],
            protocol: Protocol::Tcp,
            ports: Some(vec!["80".into(), "443".into()]),
            uuid: Field::Null,
        }],
        timeouts: Some(Timeouts([("create".to_string(), "10m".to_string())].into())),
    }
}

#[test]
fn the_model_matches_its_schema() {
    check::<Acl>(&schema()).unwrap();
}

#[test]
fn round_trip_keeps_kinds_null_and_unknown() {
    let ty = schema().value_type();
    let v = to_value(&acl(), &ty).unwrap();
    assert_eq!(v.get_str("id"), Some("a1"));
    assert!(v.get("display_text").is_unknown());
    assert!(v.get("enabled").is_null());
    assert!(matches!(v.get("rule"), Value::Set(_)));
    assert!(matches!(v.get("tags"), Value::Map(_)));
    assert!(matches!(v.get("timeouts"), Value::Object(_)));
    assert!(v.get("timeouts").get("delete").is_null());
    let rule = &v.get_slice("rule")[0];
    assert!(matches!(rule.get("cidr_list"), Value::Set(_)));
    assert_eq!(rule.get_str("protocol"), Some("tcp"));
    assert_eq!(rule.get_i64("rule_number"), Some(10));
    let back: Acl = from_value(&v).unwrap();
    assert_eq!(back, acl());
}

#[test]
fn errors_name_the_attribute() {
    let ty = schema().value_type();
    let mut v = to_value(&acl(), &ty).unwrap();
    v.set_attr("name", Value::Unknown);
    let e = from_value::<Acl>(&v).unwrap_err().to_string();
    assert!(e.contains(".name") && e.contains("unknown"), "{e}");

    let mut v = to_value(&acl(), &ty).unwrap();
    let mut rule = v.get_slice("rule")[0].clone();
    rule.set_attr("protocol", "icmp");
    v.set_attr("rule", Value::Set(vec![rule]));
    let e = from_value::<Acl>(&v).unwrap_err().to_string();
    assert!(e.contains(".rule[0].protocol"), "{e}");
}

#[test]
fn numbers_and_timeouts() {
    let v = Value::object([("size", Value::from(4.0)), ("big", Value::from(-2i64))]);
    #[derive(Debug, Deserialize)]
    struct N {
        size: u32,
        big: i32,
    }
    let n: N = from_value(&v).unwrap();
    assert_eq!((n.size, n.big), (4, -2));
    let half = Value::object([("size", Value::from(1.5)), ("big", Value::from(1i64))]);
    let e = from_value::<N>(&half).unwrap_err().to_string();
    assert!(e.contains(".size"), "{e}");

    let t = acl().timeouts.unwrap_or_default();
    let d = std::time::Duration::from_secs(60);
    assert_eq!(t.get("create", d).unwrap().as_secs(), 600);
    assert_eq!(t.get("delete", d).unwrap(), d);
    let bad = Timeouts([("create".to_string(), "soon".to_string())].into());
    assert!(bad.get("create", d).is_err());
}

#[test]
fn drift_between_model_and_schema_is_caught() {
    #[derive(Debug, Serialize, Deserialize)]
    struct Misspelt {
        id: Field<String>,
        name: String,
        displaytext: Field<String>,
        enabled: Option<bool>,
        managed: bool,
        size: Option<u32>,
        tags: Option<BTreeMap<String, String>>,
        rule: Vec<Rule>,
        timeouts: Option<Timeouts>,
    }
    let e = check::<Misspelt>(&schema()).unwrap_err().to_string();
    assert!(e.contains("display_text"), "{e}");

    // a plain String for a computed attribute cannot hold a plan's unknown
    #[derive(Debug, Serialize, Deserialize)]
    struct NotPlannable {
        id: String,
        name: String,
        display_text: Field<String>,
        enabled: Option<bool>,
        managed: bool,
        size: Option<u32>,
        tags: Option<BTreeMap<String, String>>,
        rule: Vec<Rule>,
        timeouts: Option<Timeouts>,
    }
    let e = check::<NotPlannable>(&schema()).unwrap_err().to_string();
    assert!(e.contains(".id") && e.contains("planned shape"), "{e}");

    // a string field where the schema says number
    #[derive(Debug, Serialize, Deserialize)]
    struct WrongType {
        id: Field<String>,
        name: String,
        display_text: Field<String>,
        enabled: Option<bool>,
        managed: bool,
        size: Option<String>,
        tags: Option<BTreeMap<String, String>>,
        rule: Vec<Rule>,
        timeouts: Option<Timeouts>,
    }
    assert!(check::<WrongType>(&schema()).is_err());
}

#[test]
fn encoding_rejects_fields_outside_the_schema() {
    #[derive(Serialize)]
    struct Extra {
        name: &'static str,
        nope: bool,
    }
    let ty = Type::object([("name", Type::String)]);
    let e = to_value(
        &Extra {
            name: "x",
            nope: true,
        },
        &ty,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("nope"), "{e}");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RuleView {
    protocol: Field<String>,
    uuid: Field<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AclView {
    name: Field<String>,
    tags: Field<BTreeMap<String, String>>,
    rule: Field<Vec<RuleView>>,
}

#[test]
fn a_view_may_name_some_attributes_but_only_real_ones() {
    check_view::<AclView>(&schema()).unwrap();

    #[derive(Debug, Serialize, Deserialize)]
    struct Typo {
        nmae: Field<String>,
    }
    let e = check_view::<Typo>(&schema()).unwrap_err().to_string();
    assert!(e.contains("nmae"), "{e}");

    #[derive(Debug, Serialize, Deserialize)]
    struct NestedTypo {
        rule: Field<Vec<TypoRule>>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    struct TypoRule {
        protocl: Field<String>,
    }
    let e = check_view::<NestedTypo>(&schema()).unwrap_err().to_string();
    assert!(e.contains("protocl") && e.contains("rule"), "{e}");
}

#[test]
fn merging_a_view_keeps_what_it_does_not_name() {
    let ty = schema().value_type();
    let mut planned = to_value(&acl(), &ty).unwrap();
    let mut view: AclView = from_value(&planned).unwrap();
    view.name = Field::Unknown;
    view.tags = Field::Known([("k".to_string(), "v".to_string())].into());
    if let Field::Known(rules) = &mut view.rule {
        rules[0].uuid = Field::Unknown;
    }
    merge_into(&view, &mut planned).unwrap();
    assert!(planned.get("name").is_unknown());
    assert_eq!(planned.get("managed"), &Value::Bool(true));
    // a map is replaced, not merged key by key
    assert_eq!(planned.get("tags").as_map().map(|m| m.len()), Some(1));
    assert_eq!(planned.get("tags").get_str("k"), Some("v"));
    let rule = &planned.get_slice("rule")[0];
    assert!(matches!(planned.get("rule"), Value::Set(_)));
    assert!(rule.get("uuid").is_unknown());
    assert_eq!(rule.get_str("protocol"), Some("tcp"));
    assert!(!rule.get("cidr_list").is_null());
}
