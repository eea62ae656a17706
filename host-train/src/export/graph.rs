//! A small ONNX graph builder over tract-onnx's protobuf types: named initialisers, single-output
//! nodes, and the model wrapper with opset and metadata.

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto::{Tensor as TypeTensor, Value as TypeValue};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// The ONNX opset the exporter writes.
pub const OPSET: i64 = 17;
/// ONNX IR version matching opset 17 (ONNX 1.12).
pub const IR_VERSION: i64 = 8;

/// Builds one graph: initialisers and nodes in topological order.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

/// An attribute value.
pub enum Attr {
    /// One integer.
    Int(i64),
    /// Integers.
    Ints(Vec<i64>),
    /// One float.
    Float(f32),
}

impl GraphBuilder {
    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// An f32 initialiser.
    pub fn f32(&mut self, hint: &str, shape: &[usize], data: Vec<f32>) -> String {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "{hint}: shape");
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..TensorProto::default()
        });
        name
    }

    /// An int8 initialiser.
    pub fn i8(&mut self, hint: &str, shape: &[usize], data: Vec<i8>) -> String {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "{hint}: shape");
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Int8 as i32,
            raw_data: data.iter().map(|&v| v as u8).collect(),
            ..TensorProto::default()
        });
        name
    }

    /// An int64 initialiser (shapes, axes).
    pub fn i64(&mut self, hint: &str, data: &[i64]) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..TensorProto::default()
        });
        name
    }

    /// A scalar f32 initialiser.
    pub fn scalar(&mut self, hint: &str, value: f32) -> String {
        self.f32(hint, &[], vec![value])
    }

    /// Appends a node with one output and returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, attrs, &out);
        out
    }

    /// Appends a node whose (single) output has a given name.
    pub fn node_named(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>, out: &str) {
        let name = self.fresh(op);
        self.nodes.push(NodeProto {
            name,
            op_type: op.to_string(),
            input: inputs.iter().map(ToString::to_string).collect(),
            output: vec![out.to_string()],
            attribute: attrs
                .into_iter()
                .map(|(name, value)| attribute(name, value))
                .collect(),
            ..NodeProto::default()
        });
    }

    /// Number of nodes of each op type.
    pub fn op_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for n in &self.nodes {
            *counts.entry(n.op_type.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The model: one f32 input and one f32 output of fixed shapes, and `metadata`.
    pub fn finish(
        self,
        input: (&str, &[usize]),
        outputs: &[(&str, &[usize])],
        metadata: Vec<(String, String)>,
    ) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "host-train".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            graph: Some(GraphProto {
                name: "cry-classifier".into(),
                node: self.nodes,
                initializer: self.initializers,
                input: vec![value_info(input.0, input.1)],
                output: outputs
                    .iter()
                    .map(|(name, shape)| value_info(name, shape))
                    .collect(),
                ..GraphProto::default()
            }),
            metadata_props: metadata
                .into_iter()
                .map(|(key, value)| StringStringEntryProto { key, value })
                .collect(),
            ..ModelProto::default()
        }
    }
}

fn attribute(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.to_string(),
        ..AttributeProto::default()
    };
    match value {
        Attr::Int(i) => {
            a.r#type = AttributeType::Int as i32;
            a.i = i;
        }
        Attr::Ints(v) => {
            a.r#type = AttributeType::Ints as i32;
            a.ints = v;
        }
        Attr::Float(f) => {
            a.r#type = AttributeType::Float as i32;
            a.f = f;
        }
    }
    a
}

fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TypeTensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d as i64)),
                            ..Dimension::default()
                        })
                        .collect(),
                }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}
