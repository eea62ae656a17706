//! Dynamic int8 quantisation in the structure of onnxruntime's `quantize_dynamic`, made safe for
//! tract: weights int8, symmetric, one scale per output channel applied by a `Mul` after the
//! integer op (never a per-axis `DequantizeLinear`, of which tract reads only the first scale);
//! activations u8 per tensor with `DynamicQuantizeLinear`'s arithmetic (written out in
//! element-wise ops, which tract runs faster than its own kernel).

use super::graph::{Attr, GraphBuilder};

/// Symmetric int8 weights and their scales, one per group of `group` consecutive values taken
/// with stride `stride` (an output channel).
fn quantize_channels(
    w: &[f32],
    channels: usize,
    index: impl Fn(usize, usize) -> usize,
    per_channel: usize,
) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0i8; w.len()];
    let mut scales = Vec::with_capacity(channels);
    for c in 0..channels {
        let max = (0..per_channel)
            .map(|k| w[index(c, k)].abs())
            .fold(0.0f32, f32::max);
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for k in 0..per_channel {
            let i = index(c, k);
            q[i] = (w[i] / scale).round().clamp(-127.0, 127.0) as i8;
        }
        scales.push(scale);
    }
    (q, scales)
}

/// `x` → (u8 values, scale, zero point) per tensor: `DynamicQuantizeLinear`'s definition written
/// out in element-wise ops. tract's own `DynamicQuantizeLinear` is a scalar loop that took 38 % of
/// a full-size int8 window; these ops it vectorises and fuses (window 269 → 218 ms, see
/// BENCHMARKS.md). `QuantizeLinear` cannot stand in for the last steps: tract needs its scale to
/// be a constant.
fn dynamic_quantize(g: &mut GraphBuilder, x: &str) -> (String, String, String) {
    let zero = g.scalar("dq_zero", 0.0);
    let inv_255 = g.scalar("dq_inv255", 1.0 / 255.0);
    // An all-zero tensor would give a zero scale and a 0/0 zero point.
    let tiny = g.scalar("dq_tiny", f32::MIN_POSITIVE);
    let (lo, hi) = (g.scalar("dq_lo", 0.0), g.scalar("dq_hi", 255.0));
    let keep = || vec![("keepdims", Attr::Int(0))];
    // The range always includes 0, so that 0 is exactly representable.
    let min = g.node("ReduceMin", &[x], keep());
    let min = g.node("Min", &[&min, &zero], vec![]);
    let max = g.node("ReduceMax", &[x], keep());
    let max = g.node("Max", &[&max, &zero], vec![]);
    let range = g.node("Sub", &[&max, &min], vec![]);
    let scale = g.node("Mul", &[&range, &inv_255], vec![]);
    let scale = g.node("Max", &[&scale, &tiny], vec![]);
    let neg_min = g.node("Neg", &[&min], vec![]);
    let zp = g.node("Div", &[&neg_min, &scale], vec![]);
    let zp = g.node("Round", &[&zp], vec![]);
    let zp = g.node("Clip", &[&zp, &lo, &hi], vec![]);
    let zp_u8 = g.node("Cast", &[&zp], vec![("to", Attr::Int(UINT8))]);
    let q = g.node("Div", &[x, &scale], vec![]);
    let q = g.node("Round", &[&q], vec![]);
    let q = g.node("Add", &[&q, &zp], vec![]);
    let q = g.node("Clip", &[&q, &lo, &hi], vec![]);
    let q = g.node("Cast", &[&q], vec![("to", Attr::Int(UINT8))]);
    (q, scale, zp_u8)
}

/// ONNX `TensorProto.DataType` of u8.
const UINT8: i64 = 2;

/// `x @ W` with `W` (`[in, out]`, row-major) int8 per output column.
pub fn matmul_int8(
    g: &mut GraphBuilder,
    x: &str,
    shape: &[usize],
    w: &[f32],
    hint: &str,
) -> String {
    let (d_in, d_out) = (shape[0], shape[1]);
    let (wq, scales) = quantize_channels(w, d_out, |c, k| k * d_out + c, d_in);
    let wq = g.i8(&format!("{hint}_wq"), shape, wq);
    let ws = g.f32(&format!("{hint}_wscale"), &[d_out], scales);
    let (xq, xs, xzp) = dynamic_quantize(g, x);
    let acc = g.node("MatMulInteger", &[&xq, &wq, &xzp], vec![]);
    let acc = g.node("Cast", &[&acc], vec![("to", Attr::Int(1))]);
    let y = g.node("Mul", &[&acc, &xs], vec![]);
    g.node("Mul", &[&y, &ws], vec![])
}

/// A 1-D convolution with weights `[out, in, k]` int8 per output channel.
pub fn conv_int8(
    g: &mut GraphBuilder,
    x: &str,
    shape: &[usize],
    w: &[f32],
    attrs: Vec<(&str, Attr)>,
    hint: &str,
) -> String {
    let (out, per) = (shape[0], shape[1] * shape[2]);
    let (wq, scales) = quantize_channels(w, out, |c, k| c * per + k, per);
    let wq = g.i8(&format!("{hint}_wq"), shape, wq);
    let ws = g.f32(&format!("{hint}_wscale"), &[1, out, 1], scales);
    let (xq, xs, xzp) = dynamic_quantize(g, x);
    let acc = g.node("ConvInteger", &[&xq, &wq, &xzp], attrs);
    let acc = g.node("Cast", &[&acc], vec![("to", Attr::Int(1))]);
    let y = g.node("Mul", &[&acc, &xs], vec![]);
    g.node("Mul", &[&y, &ws], vec![])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_scales_use_each_channel_range() {
        // [in = 2, out = 2]: column 0 spans ±1, column 1 spans ±0.01.
        let w = [1.0f32, 0.01, -0.25, -0.004];
        let (q, s) = quantize_channels(&w, 2, |c, k| k * 2 + c, 2);
        assert_eq!(q, [127, 127, -32, -51]);
        assert!((s[0] - 1.0 / 127.0).abs() < 1e-9 && (s[1] - 0.01 / 127.0).abs() < 1e-9);
        let (_, s) = quantize_channels(&[0.0, 0.0], 1, |_, k| k, 2);
        assert_eq!(s, [1.0], "an all-zero channel keeps a usable scale");
    }
}
