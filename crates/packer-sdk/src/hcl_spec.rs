//! The HCL2 object spec a builder returns from `Builder.ConfigSpec`, in the two encodings
//! Packer reads:
//!
//! - **protobuf** ([`Spec::to_protobuf`]) for Packer started with `--protobuf` (1.7+ with
//!   every plugin announcing protocol v2): packer-plugin-sdk's `rpc/hcl_spec.proto`. Its
//!   `object` maps attribute names to `Attr` (name, cty type, required), `Block` or
//!   `BlockList` specs; primitive cty types travel as Go-syntax strings (`cty.String`).
//! - **gob** ([`Spec::to_gob`]) for everyone else, Packer 1.6.6 above all: Go's
//!   `encoding/gob` of an `hcldec.ObjectSpec` (`map[string]hcldec.Spec`), whose values are
//!   the registered `*hcldec.AttrSpec`, `*hcldec.BlockSpec` and `*hcldec.BlockListSpec`,
//!   with each `cty.Type` in its own nested gob stream (go-cty's `Type.GobEncode`:
//!   `gobType{Version int; Impl typeImpl}` over `primitiveType{Kind}`, `typeList` and
//!   `typeMap{ElementTypeT}`).

use std::collections::{BTreeMap, HashMap};

use prost::Message;

/// A cty type usable for an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtyType {
    /// `cty.String`.
    String,
    /// `cty.Number`.
    Number,
    /// `cty.Bool`.
    Bool,
    /// `cty.List(T)`.
    List(Box<CtyType>),
    /// `cty.Map(T)` (keys are strings).
    Map(Box<CtyType>),
}

/// An hcldec spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// An object: the root of a builder's spec.
    Object(BTreeMap<String, Spec>),
    /// One attribute.
    Attr {
        /// Attribute name in the template.
        name: String,
        /// Its type.
        ty: CtyType,
        /// Whether HCL should insist on it (builders usually validate in Prepare instead).
        required: bool,
    },
    /// At most one nested block.
    Block {
        /// Block type name.
        name: String,
        /// Whether the block must be present.
        required: bool,
        /// The block body's spec.
        nested: Box<Spec>,
    },
    /// Any number of nested blocks.
    BlockList {
        /// Block type name.
        name: String,
        /// Each block body's spec.
        nested: Box<Spec>,
    },
}

impl Spec {
    /// An object spec of optional attributes, the usual shape of a builder config.
    pub fn object_of_attrs<'a>(attrs: impl IntoIterator<Item = (&'a str, CtyType)>) -> Spec {
        Spec::Object(
            attrs
                .into_iter()
                .map(|(name, ty)| {
                    (
                        name.to_owned(),
                        Spec::Attr {
                            name: name.to_owned(),
                            ty,
                            required: false,
                        },
                    )
                })
                .collect(),
        )
    }

    /// The protobuf bytes `Builder.ConfigSpec` returns under `--protobuf`.
    pub fn to_protobuf(&self) -> Vec<u8> {
        pb::Spec::from(self).encode_to_vec()
    }

    /// The gob bytes `Builder.ConfigSpec` returns without `--protobuf` (Packer 1.6.6 decodes
    /// them into an `hcldec.ObjectSpec`). A root that is not [`Spec::Object`] is wrapped as
    /// the object's only entry, keyed by its name.
    pub fn to_gob(&self) -> Vec<u8> {
        gob_spec::encode(self)
    }

    /// The attribute or block name this spec decodes (empty for an object).
    fn name(&self) -> &str {
        match self {
            Spec::Object(_) => "",
            Spec::Attr { name, .. } | Spec::Block { name, .. } | Spec::BlockList { name, .. } => {
                name
            }
        }
    }
}

/// `hcldec.ObjectSpec` and `cty.Type` as Go's gob sees them (hcl/v2 `hcldec/spec.go`,
/// go-cty `cty/gob.go`, `cty/types_to_register.go`).
mod gob_spec {
    use super::{CtyType, Spec};
    use crate::gob::{self, id, Struct};

    // Type ids of the spec stream: all defined up front.
    const OBJECT: i64 = gob::FIRST_TYPE_ID;
    const ATTR: i64 = OBJECT + 1;
    const CTY_TYPE: i64 = OBJECT + 2;
    const BLOCK: i64 = OBJECT + 3;
    const BLOCK_LIST: i64 = OBJECT + 4;

    // Names the Go side registered with gob.Register (pointer types keep the short package
    // name, a quirk gob keeps for compatibility).
    const OBJECT_NAME: &str = "github.com/hashicorp/hcl/v2/hcldec.ObjectSpec";
    const ATTR_NAME: &str = "*hcldec.AttrSpec";
    const BLOCK_NAME: &str = "*hcldec.BlockSpec";
    const BLOCK_LIST_NAME: &str = "*hcldec.BlockListSpec";

    pub(super) fn encode(spec: &Spec) -> Vec<u8> {
        let mut s = gob::Stream::new();
        s.define_map(OBJECT, "ObjectSpec", id::STRING, id::INTERFACE);
        s.define_struct(
            ATTR,
            "AttrSpec",
            &[
                ("Name", id::STRING),
                ("Type", CTY_TYPE),
                ("Required", id::BOOL),
            ],
        );
        s.define_gob_encoder(CTY_TYPE, "Type");
        s.define_struct(
            BLOCK,
            "BlockSpec",
            &[
                ("TypeName", id::STRING),
                ("Nested", id::INTERFACE),
                ("Required", id::BOOL),
            ],
        );
        s.define_struct(
            BLOCK_LIST,
            "BlockListSpec",
            &[
                ("TypeName", id::STRING),
                ("Nested", id::INTERFACE),
                ("MinItems", id::INT),
                ("MaxItems", id::INT),
            ],
        );
        let root = match spec {
            Spec::Object(_) => object(spec),
            other => object(&Spec::Object(
                [(other.name().to_owned(), other.clone())].into(),
            )),
        };
        s.value(OBJECT, &gob::single(&root));
        s.finish()
    }

    /// An object's map body: count, then name and spec (as an interface) per entry.
    fn object(spec: &Spec) -> Vec<u8> {
        let mut out = Vec::new();
        if let Spec::Object(entries) = spec {
            gob::put_uint(&mut out, entries.len() as u64);
            for (name, value) in entries {
                gob::put_bytes(&mut out, name.as_bytes());
                out.extend_from_slice(&as_interface(value));
            }
        }
        out
    }

    /// A spec as the `hcldec.Spec` interface value.
    fn as_interface(spec: &Spec) -> Vec<u8> {
        match spec {
            Spec::Object(_) => gob::interface(OBJECT_NAME, OBJECT, &gob::single(&object(spec))),
            Spec::Attr { name, ty, required } => {
                let body = Struct::new()
                    .bytes(0, name.as_bytes())
                    .bytes(1, &cty_type(ty))
                    .bool(2, *required)
                    .end();
                gob::interface(ATTR_NAME, ATTR, &body)
            }
            Spec::Block {
                name,
                required,
                nested,
            } => {
                let body = Struct::new()
                    .bytes(0, name.as_bytes())
                    .interface(1, &as_interface(nested))
                    .bool(2, *required)
                    .end();
                gob::interface(BLOCK_NAME, BLOCK, &body)
            }
            Spec::BlockList { name, nested } => {
                let body = Struct::new()
                    .bytes(0, name.as_bytes())
                    .interface(1, &as_interface(nested))
                    .end();
                gob::interface(BLOCK_LIST_NAME, BLOCK_LIST, &body)
            }
        }
    }

    /// `cty.Type.GobEncode()`: a fresh gob stream holding `gobType{Version: 0, Impl}`.
    pub(super) fn cty_type(ty: &CtyType) -> Vec<u8> {
        const GOB_TYPE: i64 = gob::FIRST_TYPE_ID;
        const IMPL: i64 = GOB_TYPE + 1;
        const NESTED_TYPE: i64 = GOB_TYPE + 2;
        let mut s = gob::Stream::new();
        s.define_struct(
            GOB_TYPE,
            "gobType",
            &[("Version", id::INT), ("Impl", id::INTERFACE)],
        );
        let (name, body) = match ty {
            CtyType::String | CtyType::Number | CtyType::Bool => {
                s.define_struct(IMPL, "primitiveType", &[("Kind", id::UINT)]);
                let kind = match ty {
                    CtyType::String => b'S',
                    CtyType::Number => b'N',
                    _ => b'B',
                };
                (
                    "github.com/zclconf/go-cty/cty.primitiveType",
                    Struct::new().uint(0, u64::from(kind)).end(),
                )
            }
            CtyType::List(elem) | CtyType::Map(elem) => {
                let (name, go) = match ty {
                    CtyType::List(_) => ("github.com/zclconf/go-cty/cty.typeList", "typeList"),
                    _ => ("github.com/zclconf/go-cty/cty.typeMap", "typeMap"),
                };
                s.define_struct(IMPL, go, &[("ElementTypeT", NESTED_TYPE)]);
                s.define_gob_encoder(NESTED_TYPE, "Type");
                (name, Struct::new().bytes(0, &cty_type(elem)).end())
            }
        };
        let value = Struct::new()
            .interface(1, &gob::interface(name, IMPL, &body))
            .end();
        s.value(GOB_TYPE, &value);
        s.finish()
    }
}

/// The wire messages of `hcl_spec.proto`, field numbers as in the .proto file.
mod pb {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CtyType {
        #[prost(oneof = "cty_type::TypeDef", tags = "1, 2, 3")]
        pub type_def: Option<cty_type::TypeDef>,
    }

    pub mod cty_type {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum TypeDef {
            #[prost(message, tag = "1")]
            Primitive(super::CtyPrimitive),
            #[prost(message, tag = "2")]
            List(Box<super::CtyList>),
            #[prost(message, tag = "3")]
            Map(Box<super::CtyMap>),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CtyPrimitive {
        #[prost(string, tag = "1")]
        pub type_string: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CtyList {
        #[prost(message, optional, boxed, tag = "1")]
        pub element_type: Option<Box<CtyType>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CtyMap {
        #[prost(message, optional, boxed, tag = "1")]
        pub element_type: Option<Box<CtyType>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Spec {
        #[prost(oneof = "spec::Block", tags = "1, 2, 3, 4")]
        pub block: Option<spec::Block>,
    }

    pub mod spec {
        // Names mirror the .proto oneof (`block`, `block_value`, `block_list`).
        #[allow(clippy::enum_variant_names)]
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Block {
            #[prost(message, tag = "1")]
            Object(super::Object),
            #[prost(message, tag = "2")]
            Attr(super::Attr),
            #[prost(message, tag = "3")]
            BlockValue(Box<super::Block>),
            #[prost(message, tag = "4")]
            BlockList(Box<super::BlockList>),
        }
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Attr {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub r#type: Option<CtyType>,
        #[prost(bool, tag = "3")]
        pub required: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Block {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(bool, tag = "2")]
        pub required: bool,
        #[prost(message, optional, boxed, tag = "3")]
        pub nested: Option<Box<Spec>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockList {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, boxed, tag = "2")]
        pub nested: Option<Box<Spec>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Object {
        #[prost(map = "string, message", tag = "1")]
        pub attributes: HashMap<String, Spec>,
    }

    impl From<&super::CtyType> for CtyType {
        fn from(t: &super::CtyType) -> Self {
            use super::CtyType as T;
            let prim = |s: &str| {
                cty_type::TypeDef::Primitive(CtyPrimitive {
                    type_string: s.to_owned(),
                })
            };
            let type_def = match t {
                T::String => prim("cty.String"),
                T::Number => prim("cty.Number"),
                T::Bool => prim("cty.Bool"),
                T::List(e) => cty_type::TypeDef::List(Box::new(CtyList {
                    element_type: Some(Box::new(CtyType::from(e.as_ref()))),
                })),
                T::Map(e) => cty_type::TypeDef::Map(Box::new(CtyMap {
                    element_type: Some(Box::new(CtyType::from(e.as_ref()))),
                })),
            };
            CtyType {
                type_def: Some(type_def),
            }
        }
    }

    impl From<&super::Spec> for Spec {
        fn from(s: &super::Spec) -> Self {
            use super::Spec as S;
            let block = match s {
                S::Object(attrs) => spec::Block::Object(Object {
                    attributes: attrs
                        .iter()
                        .map(|(k, v)| (k.clone(), Spec::from(v)))
                        .collect(),
                }),
                S::Attr { name, ty, required } => spec::Block::Attr(Attr {
                    name: name.clone(),
                    r#type: Some(CtyType::from(ty)),
                    required: *required,
                }),
                S::Block {
                    name,
                    required,
                    nested,
                } => spec::Block::BlockValue(Box::new(Block {
                    name: name.clone(),
                    required: *required,
                    nested: Some(Box::new(Spec::from(nested.as_ref()))),
                })),
                S::BlockList { name, nested } => spec::Block::BlockList(Box::new(BlockList {
                    name: name.clone(),
                    nested: Some(Box::new(Spec::from(nested.as_ref()))),
                })),
            };
            Spec { block: Some(block) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_bytes_match_hand_encoded_protobuf() {
        let spec = Spec::object_of_attrs([("zone", CtyType::String)]);
        // Spec{object=1{attributes=1 map entry{key=1 "zone", value=2 Spec{attr=2{
        //   name=1 "zone", type=2 CtyType{primitive=1{typeString=1 "cty.String"}}}}}}}
        let prim: Vec<u8> = [&[0x0a, 10][..], b"cty.String"].concat();
        let cty: Vec<u8> = [&[0x0a, prim.len() as u8][..], &prim].concat();
        let attr: Vec<u8> = [&[0x0a, 4][..], b"zone", &[0x12, cty.len() as u8], &cty].concat();
        let value: Vec<u8> = [&[0x12, attr.len() as u8][..], &attr].concat();
        let entry: Vec<u8> = [&[0x0a, 4][..], b"zone", &[0x12, value.len() as u8], &value].concat();
        let object: Vec<u8> = [&[0x0a, entry.len() as u8][..], &entry].concat();
        let want: Vec<u8> = [&[0x0a, object.len() as u8][..], &object].concat();
        assert_eq!(spec.to_protobuf(), want);
    }

    #[test]
    fn nested_types_and_blocks_round_trip_through_prost() {
        let spec = Spec::Object(BTreeMap::from([
            (
                "tags".to_string(),
                Spec::Attr {
                    name: "tags".into(),
                    ty: CtyType::Map(Box::new(CtyType::String)),
                    required: false,
                },
            ),
            (
                "cidr_list".to_string(),
                Spec::Attr {
                    name: "cidr_list".into(),
                    ty: CtyType::List(Box::new(CtyType::String)),
                    required: true,
                },
            ),
            (
                "tunnel".to_string(),
                Spec::BlockList {
                    name: "tunnel".into(),
                    nested: Box::new(Spec::object_of_attrs([("port", CtyType::Number)])),
                },
            ),
        ]));
        let bytes = spec.to_protobuf();
        let decoded = pb::Spec::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, pb::Spec::from(&spec));
        let Some(pb::spec::Block::Object(obj)) = decoded.block else {
            panic!("root is not an object")
        };
        let Some(pb::spec::Block::Attr(a)) = &obj.attributes["cidr_list"].block else {
            panic!("cidr_list is not an attr")
        };
        assert!(a.required);
        let Some(pb::cty_type::TypeDef::List(l)) = &a.r#type.as_ref().unwrap().type_def else {
            panic!("not a list")
        };
        assert_eq!(
            l.element_type.as_ref().unwrap().type_def,
            Some(pb::cty_type::TypeDef::Primitive(pb::CtyPrimitive {
                type_string: "cty.String".into()
            }))
        );
    }
}
