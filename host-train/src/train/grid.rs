//! The hyperparameter grid searched by the inner cross-validation.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::boundary::Boundary;

/// How much of the model trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Depth {
    /// `0`: the head (projector + classifier) on cached frame-averaged last hidden states.
    Head,
    /// `k`: the top `k` transformer layers and the head.
    Top(usize),
    /// `all`: feature projection, positional conv, every layer and the head (the conv feature
    /// encoder stays frozen).
    All,
}

impl Depth {
    /// The boundary below which the model is frozen, for a model of `layers` layers.
    pub fn boundary(self, layers: usize) -> Result<Boundary, String> {
        match self {
            Depth::Head => Ok(Boundary::Pooled),
            Depth::Top(0) => Ok(Boundary::Pooled),
            Depth::Top(k) if k <= layers => Ok(Boundary::Layer(layers - k)),
            Depth::Top(k) => Err(format!(
                "trainable depth {k} exceeds the model's {layers} layers"
            )),
            Depth::All => Ok(Boundary::Conv),
        }
    }
}

impl fmt::Display for Depth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Depth::Head => write!(f, "0"),
            Depth::Top(k) => write!(f, "{k}"),
            Depth::All => write!(f, "all"),
        }
    }
}

impl Serialize for Depth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Depth::Head => s.serialize_u64(0),
            Depth::Top(k) => s.serialize_u64(*k as u64),
            Depth::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Depth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(0) => Ok(Depth::Head),
            Raw::Number(k) => Ok(Depth::Top(k as usize)),
            Raw::Text(t) if t == "all" => Ok(Depth::All),
            Raw::Text(t) => t.parse::<usize>().map(Depth::Top).map_err(|_| {
                serde::de::Error::custom(format!(
                    "depth must be a number of layers or \"all\", got \"{t}\""
                ))
            }),
        }
    }
}

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HyperParams {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Trainable depth.
    pub depth: Depth,
    /// Inverse-frequency class weights in the loss.
    pub class_weighting: bool,
}

impl fmt::Display for HyperParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lr={:e} depth={} weighted={}",
            self.learning_rate, self.depth, self.class_weighting
        )
    }
}

/// The grid: every combination of its lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Peak learning rates.
    pub learning_rate: Vec<f64>,
    /// Trainable depths.
    pub depth: Vec<Depth>,
    /// Class weighting on and/or off.
    pub class_weighting: Vec<bool>,
}

impl Default for Grid {
    fn default() -> Self {
        Self {
            learning_rate: vec![1e-4, 1e-3],
            depth: vec![Depth::Head, Depth::Top(1)],
            class_weighting: vec![true, false],
        }
    }
}

impl Grid {
    /// Reads a grid from a JSON file such as
    /// `{"learning_rate": [1e-4], "depth": [0, 1, "all"], "class_weighting": [true]}`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read grid {}: {e}", path.display()))?;
        let grid: Grid = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid grid {}: {e}", path.display()))?;
        grid.validate()
            .map_err(|e| anyhow::anyhow!("invalid grid {}: {e}", path.display()))?;
        Ok(grid)
    }

    /// Every list non-empty, every learning rate positive and finite.
    pub fn validate(&self) -> Result<(), String> {
        if self.learning_rate.is_empty() || self.depth.is_empty() || self.class_weighting.is_empty()
        {
            return Err("every list needs at least one value".into());
        }
        if let Some(lr) = self
            .learning_rate
            .iter()
            .find(|lr| !(lr.is_finite() && **lr > 0.0))
        {
            return Err(format!("learning rate {lr} is not a positive number"));
        }
        Ok(())
    }

    /// Every combination, learning rate outermost.
    pub fn points(&self) -> Vec<HyperParams> {
        let mut out = Vec::new();
        for &learning_rate in &self.learning_rate {
            for &depth in &self.depth {
                for &class_weighting in &self.class_weighting {
                    out.push(HyperParams {
                        learning_rate,
                        depth,
                        class_weighting,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_map_to_boundaries() {
        assert_eq!(Depth::Head.boundary(2), Ok(Boundary::Pooled));
        assert_eq!(Depth::Top(1).boundary(2), Ok(Boundary::Layer(1)));
        assert_eq!(Depth::Top(2).boundary(2), Ok(Boundary::Layer(0)));
        assert!(Depth::Top(3).boundary(2).is_err());
        assert_eq!(Depth::All.boundary(2), Ok(Boundary::Conv));
    }

    #[test]
    fn grid_json_round_trip_and_errors() {
        let grid: Grid = serde_json::from_str(
            r#"{"learning_rate": [1e-4, 3e-4], "depth": [0, 2, "all"], "class_weighting": [true]}"#,
        )
        .unwrap();
        assert_eq!(grid.depth, [Depth::Head, Depth::Top(2), Depth::All]);
        assert_eq!(grid.points().len(), 6);
        let back: Grid = serde_json::from_str(&serde_json::to_string(&grid).unwrap()).unwrap();
        assert_eq!(back, grid);
        assert!(
            serde_json::from_str::<Grid>(
                r#"{"learning_rate": [1], "depth": ["most"], "class_weighting": [true]}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<Grid>(
                r#"{"learning_rate": [1], "depth": [0], "class_weighting": [true], "lr": 2}"#
            )
            .is_err(),
            "unknown keys are refused"
        );
        let empty = Grid {
            learning_rate: vec![],
            ..Grid::default()
        };
        assert!(empty.validate().is_err());
    }
}
