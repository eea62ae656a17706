//! The hyperparameter grid searched by the inner cross-validation.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::boundary::Boundary;

/// A trainable depth deeper than the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trainable depth {depth} exceeds the model's {layers} layers")]
pub struct DepthError {
    /// The depth asked for.
    pub depth: usize,
    /// The model's layers.
    pub layers: usize,
}

/// Why a grid cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The file cannot be read.
    #[error("cannot read grid {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a grid.
    #[error("invalid grid {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The file holds a grid with an unusable value.
    #[error("invalid grid {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<GridError>,
    },
    /// A list is empty.
    #[error("every list needs at least one value")]
    EmptyList,
    /// A learning rate is zero, negative or not finite.
    #[error("learning rate {0} is not a positive number")]
    LearningRate(f64),
    /// A depth the model does not have.
    #[error(transparent)]
    Depth(#[from] DepthError),
    /// A partial depth on a model whose layer weights read every hidden state.
    #[error(
        "depth {depth} with use_weighted_layer_sum: the layer weights read every hidden state; \
         use depth \"all\""
    )]
    WeightedLayerSum {
        /// The depth asked for.
        depth: Depth,
    },
}

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
    pub fn boundary(self, layers: usize) -> Result<Boundary, DepthError> {
        match self {
            Depth::Head => Ok(Boundary::Pooled),
            Depth::Top(0) => Ok(Boundary::Pooled),
            Depth::Top(k) if k <= layers => Ok(Boundary::Layer(layers - k)),
            Depth::Top(k) => Err(DepthError { depth: k, layers }),
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
    pub fn read(path: &Path) -> Result<Self, GridError> {
        let text = std::fs::read_to_string(path).map_err(|source| GridError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let grid: Grid = serde_json::from_str(&text).map_err(|source| GridError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        grid.validate().map_err(|e| GridError::Invalid {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        Ok(grid)
    }

    /// Every list non-empty, every learning rate positive and finite.
    pub fn validate(&self) -> Result<(), GridError> {
        if self.learning_rate.is_empty() || self.depth.is_empty() || self.class_weighting.is_empty()
        {
            return Err(GridError::EmptyList);
        }
        if let Some(lr) = self
            .learning_rate
            .iter()
            .find(|lr| !(lr.is_finite() && **lr > 0.0))
        {
            return Err(GridError::LearningRate(*lr));
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
