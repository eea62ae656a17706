//! Random training crops of a fixed length.

use rand::Rng;

/// Start of a uniformly random crop of `crop` samples in a clip of `len` samples (0 when the
/// clip is not longer than the crop).
pub fn random_crop_start(len: usize, crop: usize, rng: &mut impl Rng) -> usize {
    if len <= crop {
        0
    } else {
        rng.random_range(0..=len - crop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    #[test]
    fn crops_stay_inside_and_cover_the_range() {
        let mut rng = seed::rng(1, &[]);
        let starts: Vec<usize> = (0..2000)
            .map(|_| random_crop_start(10, 4, &mut rng))
            .collect();
        assert!(starts.iter().all(|&s| s <= 6));
        for s in 0..=6 {
            assert!(starts.contains(&s), "start {s} never drawn");
        }
        assert_eq!(random_crop_start(3, 4, &mut rng), 0);
        let mut a = seed::rng(5, &[1]);
        let mut b = seed::rng(5, &[1]);
        assert_eq!(
            random_crop_start(1000, 10, &mut a),
            random_crop_start(1000, 10, &mut b)
        );
    }
}
