//! Schemas of providers, resources and data sources, with a builder so a
//! resource's schema reads like its documentation.
//!
//! `force_new` and `default` are ours, not Terraform's: the framework uses
//! them when planning (see [`crate::plan`]). An attribute with a default is
//! sent to Terraform as computed, since the plan may fill it in.

use std::collections::BTreeMap;

use crate::{proto, Type, Value};

/// A versioned schema (the version is stored with state for upgrades).
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Schema version; bump it when the state shape changes.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A schema at version 0.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }
    /// Sets the version.
    pub fn version(mut self, v: i64) -> Schema {
        self.version = v;
        self
    }
    /// The cty type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    pub(crate) fn to_proto(&self) -> proto::Schema {
        proto::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }
}

/// Attributes and nested blocks of an object.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Attributes, in declaration order.
    pub attributes: Vec<Attribute>,
    /// Nested block types.
    pub blocks: Vec<NestedBlock>,
    /// Shown in docs and errors.
    pub description: String,
    /// Deprecated as a whole.
    pub deprecated: bool,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }
    /// Adds an attribute.
    pub fn attribute(mut self, a: Attribute) -> Block {
        self.attributes.push(a);
        self
    }
    /// Adds a nested block type.
    pub fn block(mut self, b: NestedBlock) -> Block {
        self.blocks.push(b);
        self
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Block {
        self.description = d.into();
        self
    }
    /// Adds the Go SDK's `timeouts { create = "10m" ... }` block with the
    /// given operations as optional string attributes.
    pub fn timeouts(self, operations: &[&str]) -> Block {
        let mut inner = Block::new();
        for op in operations {
            inner = inner.attribute(Attribute::optional(*op, Type::String));
        }
        self.block(NestedBlock::single("timeouts", inner))
    }

    /// Looks up an attribute by name.
    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of values of this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for b in &self.blocks {
            let obj = b.block.value_type();
            let t = match b.nesting {
                Nesting::Single | Nesting::Group => obj,
                Nesting::List => Type::list(obj),
                Nesting::Set => Type::set(obj),
                Nesting::Map => Type::map(obj),
            };
            attrs.insert(b.name.clone(), t);
        }
        Type::Object(attrs)
    }

    fn to_proto(&self, version: i64) -> proto::schema::Block {
        proto::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self.blocks.iter().map(NestedBlock::to_proto).collect(),
            description: self.description.clone(),
            description_kind: proto::StringKind::Plain as i32,
            deprecated: self.deprecated,
        }
    }
}

/// One attribute.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Name in configuration.
    pub name: String,
    /// cty type.
    pub ty: Type,
    /// Shown in docs and errors.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (when not set in configuration).
    pub computed: bool,
    /// Hidden in Terraform's output.
    pub sensitive: bool,
    /// Deprecated.
    pub deprecated: bool,
    /// A change replaces the resource instead of updating it.
    pub force_new: bool,
    /// Value planned when configuration leaves the attribute unset.
    pub default: Option<Value>,
    /// Kept in plan and state as the SHA1 hex of the configured text (the Go SDK's
    /// `StateFunc` hashing, e.g. `user_data`); see [`crate::stored_hash`].
    pub stored_as_sha1: bool,
}

impl Attribute {
    fn new(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            name: name.into(),
            ty,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            force_new: false,
            default: None,
            stored_as_sha1: false,
        }
    }
    /// Must be set in configuration.
    pub fn required(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            required: true,
            ..Attribute::new(name, ty)
        }
    }
    /// May be set in configuration; null otherwise.
    pub fn optional(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            optional: true,
            ..Attribute::new(name, ty)
        }
    }
    /// Set only by the provider (e.g. `id`).
    pub fn computed(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            computed: true,
            ..Attribute::new(name, ty)
        }
    }
    /// May be set in configuration; the provider fills it otherwise.
    pub fn optional_computed(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            optional: true,
            computed: true,
            ..Attribute::new(name, ty)
        }
    }
    /// Hides the value in Terraform's output.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
    /// Makes a change replace the resource.
    pub fn force_new(mut self) -> Attribute {
        self.force_new = true;
        self
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Attribute {
        self.description = d.into();
        self
    }
    /// Plans `v` when configuration leaves the attribute unset.
    pub fn default(mut self, v: impl Into<Value>) -> Attribute {
        self.default = Some(v.into());
        self
    }
    /// Keeps only the SHA1 hex of the configured string in plan and state, as the Go SDK's
    /// `StateFunc` does for secrets such as `user_data`; the resource still receives the
    /// configured text at apply. Top-level string attributes only.
    pub fn stored_as_sha1(mut self) -> Attribute {
        self.stored_as_sha1 = true;
        self
    }
    /// Marks deprecated.
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    fn to_proto(&self) -> proto::schema::Attribute {
        proto::schema::Attribute {
            name: self.name.clone(),
            r#type: self.ty.to_json().to_string().into_bytes(),
            description: self.description.clone(),
            required: self.required,
            optional: self.optional || (self.default.is_some() && !self.required),
            // a default is filled in by the plan, which Terraform only
            // allows for computed attributes
            computed: self.computed || self.default.is_some(),
            sensitive: self.sensitive,
            description_kind: proto::StringKind::Plain as i32,
            deprecated: self.deprecated,
        }
    }
}

/// How often a nested block may appear and how its values are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most once; the value is an object (or null).
    Single,
    /// Ordered, repeatable; a list of objects.
    List,
    /// Unordered, repeatable; a set of objects.
    Set,
    /// Labelled; a map of objects.
    Map,
    /// Exactly once, never null.
    Group,
}

/// A nested block type.
#[derive(Debug, Clone)]
pub struct NestedBlock {
    /// Block type name in configuration.
    pub name: String,
    /// The block's own schema.
    pub block: Block,
    /// Nesting mode.
    pub nesting: Nesting,
    /// Minimum count (list/set).
    pub min_items: i64,
    /// Maximum count (list/set), 0 = unlimited.
    pub max_items: i64,
    /// Any change inside replaces the resource.
    pub force_new: bool,
}

impl NestedBlock {
    fn new(name: impl Into<String>, block: Block, nesting: Nesting) -> NestedBlock {
        NestedBlock {
            name: name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
            force_new: false,
        }
    }
    /// A block that appears at most once.
    pub fn single(name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(name, block, Nesting::Single)
    }
    /// An ordered repeatable block.
    pub fn list(name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(name, block, Nesting::List)
    }
    /// An unordered repeatable block.
    pub fn set(name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(name, block, Nesting::Set)
    }
    /// Sets the minimum count.
    pub fn min_items(mut self, n: i64) -> NestedBlock {
        self.min_items = n;
        self
    }
    /// Sets the maximum count.
    pub fn max_items(mut self, n: i64) -> NestedBlock {
        self.max_items = n;
        self
    }
    /// Any change inside replaces the resource.
    pub fn force_new(mut self) -> NestedBlock {
        self.force_new = true;
        self
    }

    fn to_proto(&self) -> proto::schema::NestedBlock {
        use proto::schema::nested_block::NestingMode;
        proto::schema::NestedBlock {
            type_name: self.name.clone(),
            block: Some(self.block.to_proto(0)),
            nesting: match self.nesting {
                Nesting::Single => NestingMode::Single,
                Nesting::List => NestingMode::List,
                Nesting::Set => NestingMode::Set,
                Nesting::Map => NestingMode::Map,
                Nesting::Group => NestingMode::Group,
            } as i32,
            min_items: self.min_items,
            max_items: self.max_items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_type_and_wire_form() {
        let s = Schema::new(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::required("name", Type::String).force_new())
                .attribute(Attribute::optional("expunge", Type::Bool).default(false))
                .attribute(Attribute::optional("secret", Type::String).sensitive())
                .block(NestedBlock::set(
                    "rule",
                    Block::new().attribute(Attribute::required("cidr", Type::String)),
                ))
                .timeouts(&["create"]),
        )
        .version(1);
        let ty = s.value_type();
        let Type::Object(attrs) = &ty else {
            panic!("not an object")
        };
        assert_eq!(
            attrs["rule"],
            Type::set(Type::object([("cidr", Type::String)]))
        );
        assert_eq!(attrs["timeouts"], Type::object([("create", Type::String)]));
        let p = s.to_proto();
        assert_eq!(p.version, 1);
        let block = p.block.unwrap();
        let expunge = block
            .attributes
            .iter()
            .find(|a| a.name == "expunge")
            .unwrap();
        assert!(expunge.optional && expunge.computed);
        let secret = block
            .attributes
            .iter()
            .find(|a| a.name == "secret")
            .unwrap();
        assert!(secret.sensitive && !secret.computed);
        let name = block.attributes.iter().find(|a| a.name == "name").unwrap();
        assert_eq!(name.r#type, br#""string""#);
        assert_eq!(block.block_types.len(), 2);
    }
}
