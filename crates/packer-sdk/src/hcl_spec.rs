//! The HCL2 object spec a builder returns from `Builder.ConfigSpec` for modern Packer
//! (started with `--protobuf`): packer-plugin-sdk's `rpc/hcl_spec.proto`, encoded with prost.
//!
//! Packer decodes the bytes as a `Spec` whose `object` maps attribute names to `Attr`
//! (name, cty type, required), `Block` or `BlockList` specs. Primitive cty types travel as
//! Go-syntax strings: `cty.String`, `cty.Number`, `cty.Bool`. (Packer 1.6.6 wanted a gob
//! `hcldec.ObjectSpec` instead; that is not produced here, so 1.6.6 uses JSON templates.)

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
