//! Overlapping character bigrams, the recall half of Chinese matching.
//!
//! tantivy's own n-gram tokenizer gives every gram position 0, which rules out phrase queries; this one numbers
//! the grams so that a query word becomes a phrase of its bigrams and matches exactly where the word occurs as a
//! substring. Runs are split at whitespace and punctuation; a one-character run yields that character.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The bigrams of `text`, in order.
pub fn grams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text.split(|c: char| !c.is_alphanumeric()).filter(|r| !r.is_empty()) {
        let chars: Vec<char> = run.chars().collect();
        if chars.len() == 1 {
            out.push(run.to_lowercase());
        } else {
            out.extend(chars.windows(2).map(|w| w.iter().collect::<String>().to_lowercase()));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, Default)]
pub struct BigramTokenizer;

#[derive(Debug)]
pub struct BigramStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = BigramStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramStream {
        let mut tokens = Vec::new();
        let mut position = 0;
        let mut run: Vec<(usize, char)> = Vec::new();
        let mut flush = |run: &mut Vec<(usize, char)>, tokens: &mut Vec<Token>| {
            let end_of = |i: usize, c: char| i + c.len_utf8();
            if run.len() == 1 {
                let (i, c) = run[0];
                tokens.push(Token {
                    offset_from: i,
                    offset_to: end_of(i, c),
                    position,
                    text: c.to_string(),
                    position_length: 1,
                });
                position += 1;
            }
            for pair in run.windows(2) {
                let ((i, a), (j, b)) = (pair[0], pair[1]);
                tokens.push(Token {
                    offset_from: i,
                    offset_to: end_of(j, b),
                    position,
                    text: [a, b].iter().collect(),
                    position_length: 1,
                });
                position += 1;
            }
            // A gap between runs keeps a phrase from matching across punctuation.
            position += 1;
            run.clear();
        };
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                run.push((i, c));
            } else if !run.is_empty() {
                flush(&mut run, &mut tokens);
            }
        }
        if !run.is_empty() {
            flush(&mut run, &mut tokens);
        }
        BigramStream { tokens, next: 0 }
    }
}

impl TokenStream for BigramStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}
