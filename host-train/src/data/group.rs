//! Leakage groups: which clips must stay on the same side of every split.
//!
//! Donate-a-cry file names start with the recording app instance's UUID
//! (`<uuid>-<timestamp>-<version>-<sex>-<age>-<reason>`); one UUID is one phone and, in practice,
//! one baby, so all its clips form one group. Windows copies (`X - Copy.wav`, `X - Copy (2).wav`)
//! join the group of `X.wav`. Any other file is a group of its own, keyed by its base name.

/// Length of a canonical textual UUID (8-4-4-4-12 hex digits).
const UUID_LEN: usize = 36;

/// The leakage group of a file, from its stem (file name without extension).
pub fn group_from_stem(stem: &str) -> String {
    let base = strip_copy_suffix(stem);
    match donateacry_uuid(base) {
        Some(uuid) => uuid.to_ascii_lowercase(),
        None => base.to_string(),
    }
}

/// `X - Copy`, `X - Copy (3)` and `X - Copy - Copy` all become `X`.
pub fn strip_copy_suffix(stem: &str) -> &str {
    let mut base = stem.trim_end();
    loop {
        let without_number = match base.strip_suffix(')') {
            Some(rest) => match rest.rfind(" (") {
                Some(open) if rest[open + 2..].chars().all(|c| c.is_ascii_digit()) => {
                    rest[..open].trim_end()
                }
                _ => base,
            },
            None => base,
        };
        match without_number.strip_suffix(" - Copy") {
            Some(rest) => base = rest.trim_end(),
            None => return base,
        }
    }
}

/// The leading UUID of a Donate-a-cry style name, if the name has one.
pub fn donateacry_uuid(stem: &str) -> Option<&str> {
    let candidate = stem.get(..UUID_LEN)?;
    let follows_ok = stem[UUID_LEN..].is_empty() || stem[UUID_LEN..].starts_with('-');
    is_uuid(candidate)
        .then_some(candidate)
        .filter(|_| follows_ok)
}

fn is_uuid(s: &str) -> bool {
    s.len() == UUID_LEN
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donateacry_names_group_by_uuid_in_any_case() {
        let a = group_from_stem("643D64AD-B711-469A-AF69-55C0D5D3E30F-1430138495-1.0-m-72-bp");
        let b = group_from_stem("643d64ad-b711-469a-af69-55c0d5d3e30f-1430139000-1.0-m-72-hu");
        assert_eq!(a, "643d64ad-b711-469a-af69-55c0d5d3e30f");
        assert_eq!(a, b);
        let c = group_from_stem("549a46d8-9c84-430e-ade8-97eae2bef787-1430130772174-1.7-m-48-bp");
        assert_ne!(a, c);
    }

    #[test]
    fn copies_join_their_original() {
        let original = "549a46d8-9c84-430e-ade8-97eae2bef787-1430130772174-1.7-m-48-bp";
        for copy in [
            format!("{original} - Copy"),
            format!("{original} - Copy (2)"),
            format!("{original} - Copy - Copy"),
        ] {
            assert_eq!(group_from_stem(&copy), group_from_stem(original), "{copy}");
        }
        assert_eq!(group_from_stem("cry_17 - Copy"), group_from_stem("cry_17"));
        assert_eq!(group_from_stem("cry_17 - Copy (12)"), "cry_17");
    }

    #[test]
    fn other_names_are_their_own_group() {
        assert_eq!(group_from_stem("cry_17"), "cry_17");
        assert_ne!(group_from_stem("cry_17"), group_from_stem("cry_18"));
        // Not a UUID: wrong separator positions, non-hex digits, or glued to more text.
        assert_eq!(
            donateacry_uuid("643D64ADB711-469A-AF69-55C0D5D3E30F-1"),
            None
        );
        assert_eq!(
            donateacry_uuid("Z43D64AD-B711-469A-AF69-55C0D5D3E30F-1"),
            None
        );
        assert_eq!(
            donateacry_uuid("643D64AD-B711-469A-AF69-55C0D5D3E30Fx"),
            None
        );
        assert_eq!(strip_copy_suffix("take (2)"), "take (2)");
        assert_eq!(strip_copy_suffix("Copy"), "Copy");
    }
}
