//! Runs an exported model in tract and compares it with burn.

use tract_onnx::prelude::*;

/// A model loaded and optimised by tract for its fixed input shape.
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    window: usize,
}

impl TractModel {
    /// Loads ONNX bytes (the graph's input must be `[1, window]`).
    pub fn load(bytes: &[u8], window: usize) -> anyhow::Result<Self> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|e| anyhow::anyhow!("tract cannot read the model: {e:?}"))?
            .into_optimized()
            .map_err(|e| anyhow::anyhow!("tract cannot optimise the model: {e:?}"))?
            .into_runnable()
            .map_err(|e| anyhow::anyhow!("tract cannot plan the model: {e:?}"))?;
        Ok(Self {
            plan: model,
            window,
        })
    }

    /// Logits of one window of `window` samples.
    pub fn logits(&self, samples: &[f32]) -> anyhow::Result<Vec<f32>> {
        anyhow::ensure!(
            samples.len() == self.window,
            "window of {} samples expected",
            self.window
        );
        let input = tract_ndarray::Array2::from_shape_vec((1, self.window), samples.to_vec())?;
        let out = self
            .plan
            .run(tvec!(Tensor::from(input).into()))
            .map_err(|e| anyhow::anyhow!("tract run failed: {e:?}"))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| anyhow::anyhow!("logits are not f32: {e:?}"))?;
        Ok(view.iter().copied().collect())
    }
}
