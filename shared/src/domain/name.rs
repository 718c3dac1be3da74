//! Names people read (job names, category and team names): which characters they may hold,
//! and when two of them are the same name (Unicode TR15 NFKC + case folding, TR31-style
//! default-ignorables dropped).

use unicode_normalization::UnicodeNormalization;

/// Characters refused in a name or any other single-line field: controls (Cc: NUL, tab, CR,
/// LF, …), line and paragraph separators, and the bidirectional embeddings, overrides,
/// isolates and marks (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) that make text
/// display other than it reads (CVE-2021-42574, "Trojan Source").
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Invisible characters that change no reading of a name (zero-width space, joiners, word
/// joiner, byte-order mark, soft hyphen, variation selectors): left out of [`name_key`].
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// The first forbidden character of `s`, if any ([`is_forbidden`]).
pub fn first_forbidden(s: &str) -> Option<char> {
    s.chars().find(|c| is_forbidden(*c))
}

/// The identity of a name: NFKC, invisible characters dropped, case folded (lower-cased),
/// NFKC again, runs of whitespace made one space, trimmed. "Café Sync", "café sync",
/// "Cafe\u{301} Sync" (decomposed) and "Caf\u{200B}é Sync" share one key.
pub fn name_key(name: &str) -> String {
    let folded: String = name
        .nfkc()
        .filter(|c| !is_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded
        .nfkc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalike_spellings_share_one_key() {
        let k = name_key("Café Sync");
        for v in [
            "café sync",
            "CAFÉ SYNC",
            "Cafe\u{301} Sync",
            "Caf\u{200B}é Sync",
            "Café  Sync",
            "Ｃａｆé Sync",
        ] {
            assert_eq!(name_key(v), k, "{v:?}");
        }
        assert_ne!(name_key("Cafe Sync"), k);
    }

    #[test]
    fn controls_and_bidi_overrides_are_forbidden() {
        for s in [
            "a\u{202E}b",
            "a\r\nb",
            "a\0b",
            "a\tb",
            "a\u{2066}b",
            "a\u{2028}b",
        ] {
            assert!(first_forbidden(s).is_some(), "{s:?}");
        }
        assert_eq!(first_forbidden("Café Sync – ok"), None);
    }
}
