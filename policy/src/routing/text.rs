//! Small text helpers shared by the list parsers of this module.

/// One piece of a separated list, with surrounding white space removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    /// 1-based character column, in the whole text, of the piece's first non-blank
    /// character (for an empty piece: the column just after it).
    pub column: usize,
    /// The trimmed text of the piece.
    pub text: &'a str,
}

/// Splits `text` at every `sep` and trims each piece, keeping character columns so that
/// errors can say where they are. An empty text gives one empty piece.
pub(crate) fn split_trimmed(text: &str, sep: char) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut byte_start = 0;
    let mut char_start = 0;
    for (char_index, (byte, ch)) in text.char_indices().enumerate() {
        if ch == sep {
            pieces.push(piece(&text[byte_start..byte], char_start));
            byte_start = byte + ch.len_utf8();
            char_start = char_index + 1;
        }
    }
    pieces.push(piece(&text[byte_start..], char_start));
    pieces
}

fn piece(raw: &str, char_start: usize) -> Piece<'_> {
    let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
    Piece {
        column: char_start + lead + 1,
        text: raw.trim(),
    }
}

/// The first character of `text` that is white space or a control character, with its
/// 0-based character index.
pub(crate) fn first_blank_or_control(text: &str) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_point_at_trimmed_starts() {
        let pieces = split_trimmed("00, 13 ,,x", ',');
        let got: Vec<(usize, &str)> = pieces.iter().map(|p| (p.column, p.text)).collect();
        assert_eq!(got, vec![(1, "00"), (5, "13"), (9, ""), (10, "x")]);
    }

    #[test]
    fn empty_text_is_one_empty_piece() {
        let pieces = split_trimmed("", ',');
        assert_eq!(
            pieces,
            vec![Piece {
                column: 1,
                text: ""
            }]
        );
    }

    #[test]
    fn multibyte_characters_count_as_one_column() {
        let pieces = split_trimmed("é,a", ',');
        assert_eq!(pieces[1].column, 3);
    }
}
