//! The light markup people type in chat, parsed into a tree the UI turns into DOM nodes.
//!
//! # Grammar
//!
//! Blocks, decided line by line:
//! - A line that is ```` ``` ````, optionally followed by one language word, opens a **code
//!   block**. It ends at a line that is ```` ``` ```` or at the end of the text, and its content is
//!   kept verbatim.
//! - Lines starting with `> ` (or that are `>` alone) are a **quote**; consecutive ones are one
//!   quote. Inline markup applies inside.
//! - Every other run of lines is a **paragraph**. Its newlines stay in the text (the UI shows it
//!   with `white-space: pre-wrap`); blank lines at its edges, which only separated it from the
//!   blocks around it, are dropped, and a paragraph of blank lines is no paragraph.
//!
//! Inlines, which never cross a line break, so a stray marker cannot format the rest of a message:
//! - `` `code` ``: a run of backticks up to the next run of the same length; verbatim inside.
//!   So ```` ```let x = 1;``` ```` on one line is code too.
//! - `*italic*` or `_italic_`, `**bold**` or `__bold__`, `***both***`: a run of one, two or three
//!   equal markers, closed by a run of the same length. Markers only count at the edge of a word:
//!   an opening run is followed by a visible character and not preceded by a letter or digit, a
//!   closing run the other way round. So `snake_case_names` and `2*3*4` stay plain. Bold and
//!   italic nest (up to [`MAX_NESTING`] levels); markers without a partner stay literal text.
//! - `http://` and `https://` addresses, not preceded by a letter or digit, become links. An
//!   address ends at white space, `<`, `>`, `"` or a backtick; trailing `.,:;!?'])*_` are left out
//!   (they end the sentence or the emphasis), and so is a `)` unless it closes a `(` inside the
//!   address, as Wikipedia's do. No other scheme is ever a link, so `javascript:` stays text.
//! - `@name`, not preceded by a letter or digit: a mention of the run of letters, digits, `_`,
//!   `-` and `.` that follows (without a trailing `.`). Display names may contain spaces, so
//!   whether a message mentions someone is [`mentions`]'s decision, not the tree's.
//!
//! # Why our own grammar
//!
//! Every byte of this module ends up in the WebAssembly page, which has a size budget. A Markdown
//! crate such as pulldown-cmark would add many times this code (and its Unicode tables) for
//! constructs a chat never needs: headings, tables, reference links, HTML blocks. Markdown's
//! output is also HTML, and the UI never renders HTML: it needs a tree of borrowed text slices that
//! become text nodes, so a message can neither inject markup nor change the page. This grammar is
//! the small subset chat users type, with no dependency and no table.
//!
//! Parsing takes about linear time (each line is scanned once, markers are paired with a stack,
//! and a search for a closing backtick run that failed is never repeated for the same length),
//! never panics, and gives the same tree for the same text.

use std::ops::Range;

/// How deep bold and italic may nest. Past this, markers stay literal: nobody writes deeper on
/// purpose, and a bound keeps the UI's recursion over the tree shallow whatever is sent.
pub const MAX_NESTING: usize = 4;

/// A block of a message: the UI shows each one on its own lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// Ordinary text; newlines inside are kept as text.
    Paragraph(Vec<Inline<'a>>),
    /// Consecutive `> ` lines without their markers, joined by newlines.
    Quote(Vec<Inline<'a>>),
    /// A fenced code block, verbatim.
    Code {
        /// The word after the opening fence, for a label or highlighting.
        lang: Option<&'a str>,
        /// The lines between the fences, without the newline before the closing fence.
        code: &'a str,
    },
}

/// Inline content: every piece of text is a slice of the message, never a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline<'a> {
    Text(&'a str),
    Bold(Vec<Inline<'a>>),
    Italic(Vec<Inline<'a>>),
    /// A code span's content, verbatim.
    Code(&'a str),
    /// An address starting with `http://` or `https://`, containing no white space, `<`, `>` or
    /// `"`; it is both the link's target and its text.
    Link(&'a str),
    /// The name after `@`, without the `@`.
    Mention(&'a str),
}

/// Parses a message into blocks; see the [module documentation](self) for the grammar.
#[must_use]
pub fn parse(text: &str) -> Vec<Block<'_>> {
    let lines = line_ranges(text);
    let mut blocks = Vec::new();
    // The first line of the paragraph being collected, if any.
    let mut paragraph: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = &text[lines[i].clone()];
        if let Some(lang) = fence_open(line) {
            let lang = (!lang.is_empty()).then_some(lang);
            push_paragraph(&mut blocks, text, &lines, paragraph.take(), i);
            let start = lines.get(i + 1).map_or(text.len(), |next| next.start);
            let close = (i + 1..lines.len()).find(|&j| text[lines[j].clone()].trim() == "```");
            let end = close.map_or(text.len(), |j| lines[j].start.saturating_sub(1).max(start));
            blocks.push(Block::Code {
                lang,
                code: &text[start..end],
            });
            i = close.map_or(lines.len(), |j| j + 1);
        } else if quote_content(text, &lines[i]).is_some() {
            push_paragraph(&mut blocks, text, &lines, paragraph.take(), i);
            let mut inlines = Inlines::new(text);
            let first = i;
            while let Some(content) = lines.get(i).and_then(|line| quote_content(text, line)) {
                if i > first {
                    // The newline that ended the previous quote line.
                    inlines.text(lines[i - 1].end..lines[i].start);
                }
                inlines.line(content);
                i += 1;
            }
            blocks.push(Block::Quote(inlines.finish()));
        } else {
            paragraph.get_or_insert(i);
            i += 1;
        }
    }
    push_paragraph(&mut blocks, text, &lines, paragraph, lines.len());
    blocks
}

/// Whether `text` mentions the person called `name`: `@` and the name, compared ignoring case,
/// with no letter or digit right before the `@` or right after the name. Names may contain spaces
/// ("@Ada Lovelace"), which is why this searches the text rather than the tree's
/// [`Inline::Mention`]s.
///
/// Only prose counts: a name inside a code span, a code block or a link does not. The text is
/// searched with those, and the edges of bold and italic, replaced by a space, so whenever the
/// tree has an [`Inline::Mention`] of `name` this agrees (`**@Ada**` mentions Ada), and
/// `@**Ada**` does not. Letters are compared one by one in lower case, the same wherever they
/// stand in a word.
#[must_use]
pub fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let mut prose = String::with_capacity(text.len());
    for block in parse(text) {
        match block {
            Block::Paragraph(inlines) | Block::Quote(inlines) => push_prose(&mut prose, &inlines),
            Block::Code { .. } => {}
        }
        prose.push('\n');
    }
    let prose = lowercase(&prose);
    let needle = format!("@{}", lowercase(name));
    let mut from = 0;
    while let Some(found) = prose[from..].find(&needle) {
        let at = from + found;
        let end = at + needle.len();
        let before = prose[..at].chars().next_back();
        let after = prose[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        // `@` is one byte, so the next search starts on a character boundary.
        from = at + 1;
    }
    false
}

/// Lower case character by character: `str::to_lowercase` lowers a final sigma differently from
/// others, so a name alone and the same name inside a sentence could differ.
fn lowercase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Appends the text of `inlines` that is prose, with code, links and the edges of emphasis as
/// one space each, so that they neither count as a mention nor join the words around them.
fn push_prose(out: &mut String, inlines: &[Inline<'_>]) {
    for inline in inlines {
        match inline {
            Inline::Text(text) => out.push_str(text),
            Inline::Mention(name) => {
                out.push('@');
                out.push_str(name);
            }
            Inline::Bold(inner) | Inline::Italic(inner) => {
                out.push(' ');
                push_prose(out, inner);
                out.push(' ');
            }
            Inline::Code(_) | Inline::Link(_) => out.push(' '),
        }
    }
}

/// The byte ranges of the lines of `text`, without their `\n`.
fn line_ranges(text: &str) -> Vec<Range<usize>> {
    let mut start = 0;
    text.split('\n')
        .map(|line| {
            let range = start..start + line.len();
            start = range.end + 1;
            range
        })
        .collect()
}

/// If `line` opens a code block, what follows the fence: a language word or nothing.
fn fence_open(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("```")?.trim();
    (!rest.contains(|c: char| c.is_whitespace() || c == '`')).then_some(rest)
}

/// If the line at `range` is a quote line, the range of its content after the marker.
fn quote_content(text: &str, range: &Range<usize>) -> Option<Range<usize>> {
    let line = &text[range.clone()];
    if line.starts_with("> ") {
        Some(range.start + 2..range.end)
    } else if line == ">" {
        Some(range.end..range.end)
    } else {
        None
    }
}

/// Adds the paragraph made of lines `first..end`, if there is one and it shows something.
fn push_paragraph<'a>(
    blocks: &mut Vec<Block<'a>>,
    text: &'a str,
    lines: &[Range<usize>],
    first: Option<usize>,
    end: usize,
) {
    let Some(first) = first else { return };
    let (start, stop) = (lines[first].start, lines[end - 1].end);
    let body = text[start..stop].trim_end();
    // Drop the blank lines before the first visible one, but keep that line's indentation.
    let leading = body.len() - body.trim_start().len();
    let skip = body[..leading].rfind('\n').map_or(0, |newline| newline + 1);
    if body.len() == skip {
        return;
    }
    let mut inlines = Inlines::new(text);
    let mut line_start = start + skip;
    for (offset, _) in body[skip..].match_indices('\n') {
        let newline = start + skip + offset;
        inlines.line(line_start..newline);
        inlines.text(newline..newline + 1);
        line_start = newline + 1;
    }
    inlines.line(line_start..start + body.len());
    blocks.push(Block::Paragraph(inlines.finish()));
}

/// A run of `*` or `_` markers found on a line.
#[derive(Debug)]
struct Run {
    at: usize,
    len: usize,
    marker: u8,
    can_open: bool,
    can_close: bool,
    role: Role,
}

impl Run {
    /// Which stack of openers this run belongs to: same marker and same length pair up.
    fn kind(&self) -> usize {
        usize::from(self.marker == b'_') * 3 + self.len - 1
    }

    /// How many levels of nesting the pair adds: three markers are bold and italic.
    fn depth(&self) -> usize {
        if self.len == 3 { 2 } else { 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Literal,
    /// Opens the pair closed by the piece at this index.
    Open(usize),
    Close,
}

/// A line cut into pieces, before markers are paired.
#[derive(Debug)]
enum Piece<'a> {
    Text(Range<usize>),
    Node(Inline<'a>),
    Run(Run),
}

/// Builds a block's inlines from its lines, merging adjacent text into one slice.
struct Inlines<'a> {
    src: &'a str,
    /// The open bold/italic elements, innermost last, each with its run length; the first is the
    /// block itself.
    frames: Vec<(usize, Vec<Inline<'a>>)>,
    /// Text not yet pushed to the innermost frame, kept as a range so neighbours join up.
    pending: Option<Range<usize>>,
}

impl<'a> Inlines<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            frames: vec![(0, Vec::new())],
            pending: None,
        }
    }

    fn text(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        match &mut self.pending {
            Some(pending) if pending.end == range.start => pending.end = range.end,
            _ => {
                self.flush();
                self.pending = Some(range);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(range) = self.pending.take() {
            self.push(Inline::Text(&self.src[range]));
        }
    }

    fn push(&mut self, inline: Inline<'a>) {
        if let Some((_, children)) = self.frames.last_mut() {
            children.push(inline);
        }
    }

    /// Parses one line (a range of `src` without a newline).
    fn line(&mut self, range: Range<usize>) {
        let mut pieces = scan(self.src, range);
        pair_runs(&mut pieces);
        limit_nesting(&mut pieces);
        for piece in pieces {
            match piece {
                Piece::Text(range) => self.text(range),
                Piece::Node(inline) => {
                    self.flush();
                    self.push(inline);
                }
                Piece::Run(run) => match run.role {
                    Role::Open(_) => {
                        self.flush();
                        self.frames.push((run.len, Vec::new()));
                    }
                    // Pairing nests properly, so a closing run always has its frame; the check
                    // only keeps the block's own frame safe.
                    Role::Close if self.frames.len() > 1 => {
                        self.flush();
                        if let Some((len, children)) = self.frames.pop() {
                            self.push(match len {
                                1 => Inline::Italic(children),
                                2 => Inline::Bold(children),
                                _ => Inline::Bold(vec![Inline::Italic(children)]),
                            });
                        }
                    }
                    Role::Literal | Role::Close => self.text(run.at..run.at + run.len),
                },
            }
        }
    }

    fn finish(mut self) -> Vec<Inline<'a>> {
        self.flush();
        self.frames.swap_remove(0).1
    }
}

/// Cuts the line at `range` into text, code spans, links, mentions and marker runs.
///
/// Every construct starts at an ASCII byte, so stepping byte by byte only ever slices on
/// character boundaries.
fn scan(src: &str, range: Range<usize>) -> Vec<Piece<'_>> {
    let line_end = range.end;
    let bytes = src.as_bytes();
    let mut pieces = Vec::new();
    let mut text_from = range.start;
    // Backtick run lengths known to have no closing run further on this line: looking again
    // could only fail again, and that would make a line of backticks quadratic.
    let mut unclosed_ticks: Vec<usize> = Vec::new();
    let mut i = range.start;
    while i < line_end {
        if !matches!(bytes[i], b'`' | b'*' | b'_' | b'h' | b'@') {
            i += 1;
            continue;
        }
        let before = src[range.start..i].chars().next_back();
        let found = match bytes[i] {
            b'`' => {
                let len = run_len(bytes, i, line_end);
                let mut close = None;
                if !unclosed_ticks.contains(&len) {
                    close = closing_ticks(bytes, i + len, line_end, len);
                    if close.is_none() {
                        unclosed_ticks.push(len);
                    }
                }
                Some(close.map_or((Piece::Text(i..i + len), i + len), |close| {
                    (Piece::Node(Inline::Code(&src[i + len..close])), close + len)
                }))
            }
            marker @ (b'*' | b'_') => {
                let len = run_len(bytes, i, line_end);
                let after = src[i + len..line_end].chars().next();
                let piece = if len > 3 {
                    Piece::Text(i..i + len)
                } else {
                    Piece::Run(Run {
                        at: i,
                        len,
                        marker,
                        can_open: after.is_some_and(|c| !c.is_whitespace())
                            && !before.is_some_and(char::is_alphanumeric),
                        can_close: before.is_some_and(|c| !c.is_whitespace())
                            && !after.is_some_and(char::is_alphanumeric),
                        role: Role::Literal,
                    })
                };
                Some((piece, i + len))
            }
            b'h' if !before.is_some_and(char::is_alphanumeric) => link_len(&src[i..line_end])
                .map(|len| (Piece::Node(Inline::Link(&src[i..i + len])), i + len)),
            b'@' if !before.is_some_and(char::is_alphanumeric) => {
                let name = mention_name(&src[i + 1..line_end]);
                (!name.is_empty()).then(|| (Piece::Node(Inline::Mention(name)), i + 1 + name.len()))
            }
            _ => None,
        };
        match found {
            Some((piece, end)) => {
                if text_from < i {
                    pieces.push(Piece::Text(text_from..i));
                }
                pieces.push(piece);
                i = end;
                text_from = end;
            }
            None => i += 1,
        }
    }
    if text_from < line_end {
        pieces.push(Piece::Text(text_from..line_end));
    }
    pieces
}

/// The length of the run of the byte at `at`.
fn run_len(bytes: &[u8], at: usize, end: usize) -> usize {
    bytes[at..end]
        .iter()
        .take_while(|&&b| b == bytes[at])
        .count()
}

/// Where the next run of exactly `len` backticks starts, from `from` on.
fn closing_ticks(bytes: &[u8], mut from: usize, end: usize, len: usize) -> Option<usize> {
    while from < end {
        if bytes[from] == b'`' {
            let run = run_len(bytes, from, end);
            if run == len {
                return Some(from);
            }
            from += run;
        } else {
            from += 1;
        }
    }
    None
}

/// The length of the link `rest` starts with, if it starts with one.
fn link_len(rest: &str) -> Option<usize> {
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|scheme| rest.starts_with(scheme))?;
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
        .unwrap_or(rest.len());
    let mut url = &rest[..end];
    let opening = url.matches('(').count();
    let mut closing = url.matches(')').count();
    loop {
        match url.chars().next_back() {
            Some('.' | ',' | ':' | ';' | '!' | '?' | '\'' | ']' | '*' | '_') => {}
            Some(')') if closing > opening => closing -= 1,
            _ => break,
        }
        // Every character trimmed above is one byte long.
        url = &url[..url.len() - 1];
    }
    (url.len() > scheme.len()).then_some(url.len())
}

/// The mentioned name at the start of `rest` (after the `@`); empty if there is none.
fn mention_name(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('.')
}

/// Pairs each closing run with the nearest open run of the same marker and length. Open runs
/// between the two are left unpaired, so pairs nest and never cross. A stack per kind makes
/// finding the partner constant time, and each run is pushed and popped at most once.
fn pair_runs(pieces: &mut [Piece<'_>]) {
    let mut open: [Vec<usize>; 6] = Default::default();
    for index in 0..pieces.len() {
        let Piece::Run(run) = &pieces[index] else {
            continue;
        };
        let (kind, can_open) = (run.kind(), run.can_open);
        let partner = if run.can_close {
            open[kind].last().copied()
        } else {
            None
        };
        if let Some(opener) = partner {
            for stack in &mut open {
                while stack.last().is_some_and(|&o| o >= opener) {
                    stack.pop();
                }
            }
            set_role(pieces, opener, Role::Open(index));
            set_role(pieces, index, Role::Close);
        } else if can_open {
            open[kind].push(index);
        }
    }
}

fn set_role(pieces: &mut [Piece<'_>], index: usize, role: Role) {
    if let Some(Piece::Run(run)) = pieces.get_mut(index) {
        run.role = role;
    }
}

/// Turns pairs nested deeper than [`MAX_NESTING`] back into literal markers.
fn limit_nesting(pieces: &mut [Piece<'_>]) {
    let mut depth = 0;
    for index in 0..pieces.len() {
        let Piece::Run(run) = &pieces[index] else {
            continue;
        };
        match run.role {
            Role::Open(close) if depth + run.depth() > MAX_NESTING => {
                set_role(pieces, index, Role::Literal);
                set_role(pieces, close, Role::Literal);
            }
            Role::Open(_) => depth += run.depth(),
            Role::Close => depth -= run.depth(),
            Role::Literal => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Inline::{Bold, Code, Italic, Link, Mention, Text};

    /// The inlines of a message that is one paragraph.
    fn inlines(text: &str) -> Vec<Inline<'_>> {
        match parse(text).as_slice() {
            [Block::Paragraph(inlines)] => inlines.clone(),
            other => panic!("{text:?} is not one paragraph: {other:?}"),
        }
    }

    /// All the text a reader sees, in order: markers gone, code, links, language words and
    /// mentions (with their `@`) in.
    fn visible(blocks: &[Block<'_>]) -> String {
        fn inline(out: &mut String, inlines: &[Inline<'_>]) {
            for node in inlines {
                match node {
                    Text(s) | Code(s) | Link(s) => out.push_str(s),
                    Mention(name) => {
                        out.push('@');
                        out.push_str(name);
                    }
                    Bold(inner) | Italic(inner) => inline(out, inner),
                }
            }
        }
        let mut out = String::new();
        for block in blocks {
            match block {
                Block::Paragraph(inlines) | Block::Quote(inlines) => inline(&mut out, inlines),
                Block::Code { lang, code } => {
                    out.push_str(lang.unwrap_or_default());
                    out.push_str(code);
                }
            }
        }
        out
    }

    /// An escaping HTML renderer like the UI's DOM building: text only ever goes through
    /// `escape`.
    fn html(blocks: &[Block<'_>]) -> String {
        fn escape(out: &mut String, text: &str) {
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
        }
        fn inline(out: &mut String, inlines: &[Inline<'_>]) {
            for node in inlines {
                match node {
                    Text(s) => escape(out, s),
                    Bold(inner) => {
                        out.push_str("<strong>");
                        inline(out, inner);
                        out.push_str("</strong>");
                    }
                    Italic(inner) => {
                        out.push_str("<em>");
                        inline(out, inner);
                        out.push_str("</em>");
                    }
                    Code(s) => {
                        out.push_str("<code>");
                        escape(out, s);
                        out.push_str("</code>");
                    }
                    Link(url) => {
                        out.push_str("<a href=\"");
                        escape(out, url);
                        out.push_str("\">");
                        escape(out, url);
                        out.push_str("</a>");
                    }
                    Mention(name) => {
                        out.push_str("<span class=\"mention\">@");
                        escape(out, name);
                        out.push_str("</span>");
                    }
                }
            }
        }
        let mut out = String::new();
        for block in blocks {
            match block {
                Block::Paragraph(inlines) => {
                    out.push_str("<p>");
                    inline(&mut out, inlines);
                    out.push_str("</p>");
                }
                Block::Quote(inlines) => {
                    out.push_str("<blockquote>");
                    inline(&mut out, inlines);
                    out.push_str("</blockquote>");
                }
                Block::Code { code, .. } => {
                    out.push_str("<pre><code>");
                    escape(&mut out, code);
                    out.push_str("</code></pre>");
                }
            }
        }
        out
    }

    fn links<'a>(blocks: &[Block<'a>]) -> Vec<&'a str> {
        fn walk<'a>(out: &mut Vec<&'a str>, inlines: &[Inline<'a>]) {
            for node in inlines {
                match node {
                    Link(url) => out.push(url),
                    Bold(inner) | Italic(inner) => walk(out, inner),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for block in blocks {
            if let Block::Paragraph(inlines) | Block::Quote(inlines) = block {
                walk(&mut out, inlines);
            }
        }
        out
    }

    /// Whether `small` is `big` with some characters left out.
    fn is_subsequence(small: &str, big: &str) -> bool {
        let mut big = big.chars();
        small.chars().all(|c| big.any(|b| b == c))
    }

    /// The characters that are content, not markup: everything but white space and marker
    /// characters.
    fn content(text: &str) -> String {
        text.chars()
            .filter(|&c| !c.is_whitespace() && !matches!(c, '*' | '_' | '`' | '>'))
            .collect()
    }

    #[test]
    fn plain_text_is_one_paragraph_with_its_newlines() {
        assert_eq!(
            parse("hello\n  there\n\nfriend"),
            [Block::Paragraph(vec![Text("hello\n  there\n\nfriend")])]
        );
        assert_eq!(parse(""), []);
        assert_eq!(parse(" \n \n"), []);
    }

    #[test]
    fn bold_italic_and_nesting() {
        assert_eq!(
            inlines("a **b** c"),
            [Text("a "), Bold(vec![Text("b")]), Text(" c")]
        );
        assert_eq!(inlines("_it_"), [Italic(vec![Text("it")])]);
        assert_eq!(inlines("*it*"), [Italic(vec![Text("it")])]);
        assert_eq!(inlines("__b__"), [Bold(vec![Text("b")])]);
        assert_eq!(
            inlines("***both***"),
            [Bold(vec![Italic(vec![Text("both")])])]
        );
        assert_eq!(
            inlines("**a _b_ c**"),
            [Bold(vec![Text("a "), Italic(vec![Text("b")]), Text(" c")])]
        );
        assert_eq!(
            inlines("*a **b** c*"),
            [Italic(vec![Text("a "), Bold(vec![Text("b")]), Text(" c")])]
        );
        assert_eq!(
            inlines("(_see_), **this**!"),
            [
                Text("("),
                Italic(vec![Text("see")]),
                Text("), "),
                Bold(vec![Text("this")]),
                Text("!")
            ]
        );
    }

    #[test]
    fn snake_case_is_not_italic() {
        assert_eq!(
            inlines("call snake_case_fn or my_var_"),
            [Text("call snake_case_fn or my_var_")]
        );
        assert_eq!(inlines("_snake_case_"), [Italic(vec![Text("snake_case")])]);
        assert_eq!(inlines("2*3*4 = 24"), [Text("2*3*4 = 24")]);
    }

    #[test]
    fn markers_need_visible_text_inside() {
        assert_eq!(inlines("a * b * c"), [Text("a * b * c")]);
        assert_eq!(inlines("** not bold **"), [Text("** not bold **")]);
        assert_eq!(inlines("****"), [Text("****")]);
    }

    #[test]
    fn unclosed_markers_stay_literal() {
        for text in ["**bold", "_it", "*it", "`code", "a ** b", "**a *b***"] {
            assert_eq!(inlines(text), [Text(text)], "{text:?}");
        }
        // The inner pair wins and the crossing one stays literal.
        assert_eq!(
            inlines("*a _b* c_"),
            [Italic(vec![Text("a _b")]), Text(" c_")]
        );
    }

    #[test]
    fn inline_markup_does_not_cross_lines() {
        assert_eq!(inlines("**a\nb**"), [Text("**a\nb**")]);
        assert_eq!(inlines("`a\nb`"), [Text("`a\nb`")]);
    }

    #[test]
    fn code_span_is_verbatim() {
        assert_eq!(
            inlines("run `**x** _y_ https://z.io @me` now"),
            [
                Text("run "),
                Code("**x** _y_ https://z.io @me"),
                Text(" now")
            ]
        );
        assert_eq!(inlines("``a ` b``"), [Code("a ` b")]);
        assert_eq!(inlines("```let x = 1;```"), [Code("let x = 1;")]);
        // A code span inside emphasis.
        assert_eq!(inlines("*`*`*"), [Italic(vec![Code("*")])]);
    }

    #[test]
    fn urls_become_links_without_trailing_punctuation() {
        assert_eq!(
            inlines("see https://example.com/a?b=c&d. Or http://x.io!"),
            [
                Text("see "),
                Link("https://example.com/a?b=c&d"),
                Text(". Or "),
                Link("http://x.io"),
                Text("!")
            ]
        );
        assert_eq!(
            inlines("(https://example.com/path), 'http://x.io/y'"),
            [
                Text("("),
                Link("https://example.com/path"),
                Text("), '"),
                Link("http://x.io/y"),
                Text("'")
            ]
        );
        assert_eq!(
            inlines("**https://x.io/a_b**"),
            [Bold(vec![Link("https://x.io/a_b")])]
        );
        assert_eq!(
            inlines("<https://x.io/\">"),
            [Text("<"), Link("https://x.io/"), Text("\">")]
        );
    }

    #[test]
    fn wikipedia_parens_stay_in_url() {
        assert_eq!(
            inlines("https://en.wikipedia.org/wiki/Rust_(programming_language)"),
            [Link(
                "https://en.wikipedia.org/wiki/Rust_(programming_language)"
            )]
        );
        assert_eq!(
            inlines("(see https://en.wikipedia.org/wiki/Rust_(fungus))."),
            [
                Text("(see "),
                Link("https://en.wikipedia.org/wiki/Rust_(fungus)"),
                Text(").")
            ]
        );
    }

    #[test]
    fn only_http_urls_become_links() {
        for text in [
            "javascript:alert(1)",
            "ftp://x.io",
            "xhttps://x.io",
            "https://",
            "http://.",
            "data:text/html,<script>",
        ] {
            assert_eq!(inlines(text), [Text(text)], "{text:?}");
        }
    }

    #[test]
    fn fenced_block_with_lang() {
        assert_eq!(
            parse("look:\n```rust\nfn main() {\n    **not bold**\n}\n```\ndone"),
            [
                Block::Paragraph(vec![Text("look:")]),
                Block::Code {
                    lang: Some("rust"),
                    code: "fn main() {\n    **not bold**\n}"
                },
                Block::Paragraph(vec![Text("done")]),
            ]
        );
        assert_eq!(
            parse("```\n```"),
            [Block::Code {
                lang: None,
                code: ""
            }]
        );
    }

    #[test]
    fn unclosed_fence_runs_to_the_end() {
        assert_eq!(
            parse("```\na\n\nb"),
            [Block::Code {
                lang: None,
                code: "a\n\nb"
            }]
        );
        assert_eq!(
            parse("```"),
            [Block::Code {
                lang: None,
                code: ""
            }]
        );
    }

    #[test]
    fn a_fence_is_a_line_of_its_own() {
        assert_eq!(
            inlines("```not a fence``` here"),
            [Code("not a fence"), Text(" here")]
        );
        assert_eq!(inlines("```two words"), [Text("```two words")]);
    }

    #[test]
    fn quote_lines_join_into_one_quote() {
        assert_eq!(
            parse("> first **line**\n>\n> third\nreply"),
            [
                Block::Quote(vec![
                    Text("first "),
                    Bold(vec![Text("line")]),
                    Text("\n"),
                    Text("\n"),
                    Text("third")
                ]),
                Block::Paragraph(vec![Text("reply")]),
            ]
        );
        assert_eq!(inlines(">_< or >.>"), [Text(">_< or >.>")]);
    }

    #[test]
    fn blank_lines_between_blocks_are_dropped() {
        assert_eq!(
            parse("a\n\n> q\n\n\n  b\n"),
            [
                Block::Paragraph(vec![Text("a")]),
                Block::Quote(vec![Text("q")]),
                Block::Paragraph(vec![Text("  b")]),
            ]
        );
    }

    #[test]
    fn mention_boundaries() {
        assert_eq!(
            inlines("hi @ada, (@bob.) @c-d_e.f."),
            [
                Text("hi "),
                Mention("ada"),
                Text(", ("),
                Mention("bob"),
                Text(".) "),
                Mention("c-d_e.f"),
                Text(".")
            ]
        );
        assert_eq!(
            inlines("mail ada@example.com"),
            [Text("mail ada@example.com")]
        );
        assert_eq!(inlines("@ @. a@"), [Text("@ @. a@")]);
        assert_eq!(inlines("@Zoë!"), [Mention("Zoë"), Text("!")]);
    }

    #[test]
    fn mentions_by_display_name() {
        assert!(mentions("hi @Ada Lovelace!", "ada lovelace"));
        assert!(mentions("@ADA", "Ada"));
        assert!(mentions("ping (@ada)", "ada"));
        assert!(mentions("> @ada's point", "ada"));
        assert!(mentions("**@Ada**, _hi_@ada", "ada"));
        assert!(!mentions("@**Ada**", "ada"));
        assert!(mentions("@ΟΔΥΣ'Σ", "οδυσ'σ"));
        assert!(!mentions("email@ada.com", "ada"));
        assert!(!mentions("@adam", "ada"));
        assert!(!mentions("hi @Ada Lovelacex", "ada lovelace"));
        assert!(!mentions("hi ada", "ada"));
        assert!(!mentions("`@ada`", "ada"));
        assert!(!mentions("```\n@ada\n```", "ada"));
        assert!(!mentions("https://x.io/@ada", "ada"));
        assert!(!mentions("@ada", ""));
        assert!(mentions("@@ada", "ada"));
    }

    #[test]
    fn nesting_is_bounded() {
        fn depth(inlines: &[Inline<'_>]) -> usize {
            inlines
                .iter()
                .map(|node| match node {
                    Bold(inner) | Italic(inner) => 1 + depth(inner),
                    _ => 0,
                })
                .max()
                .unwrap_or(0)
        }
        let text = "_a *b _c *d _e *f* e_ d* c_ b* a_";
        let blocks = parse(text);
        let [Block::Paragraph(inlines)] = blocks.as_slice() else {
            panic!("{blocks:?}");
        };
        assert_eq!(depth(inlines), MAX_NESTING);
        assert_eq!(content(&visible(&blocks)), content(text));
    }

    #[test]
    fn marker_noise_parses_in_linear_time() {
        for noise in ["**_*", "`", "``` ``", "*a_ ", "https://x.io/(", "@a."] {
            let text = noise.repeat(2_000 / noise.len());
            let blocks = parse(&text);
            assert_eq!(content(&visible(&blocks)), content(&text));
        }
    }

    /// Text full of markup and of things an attacker would try.
    fn markup_soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("**"),
            Just("*"),
            Just("_"),
            Just("`"),
            Just("```"),
            Just("\n"),
            Just("> "),
            Just(">"),
            Just(" "),
            Just("@"),
            Just("("),
            Just(")"),
            Just("."),
            Just("\""),
            Just("'"),
            Just("&"),
            Just("<script>alert(1)</script>"),
            Just("<img src=x onerror=alert(1)>"),
            Just("javascript:alert(1)"),
            Just("http://"),
            Just("https://"),
            Just("x.io/a"),
            Just("ada"),
            Just("é"),
            Just("日本"),
        ];
        proptest::collection::vec(piece, 0..300).prop_map(|pieces| pieces.concat())
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(any::<char>(), 0..2_000).prop_map(String::from_iter),
            "\\PC{0,2000}",
            markup_soup(),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_is_deterministic(text in any_text()) {
            prop_assert_eq!(parse(&text), parse(&text));
            let _ = mentions(&text, "ada");
        }

        #[test]
        fn links_are_http_without_breaking_characters(text in any_text()) {
            for url in links(&parse(&text)) {
                prop_assert!(url.starts_with("http://") || url.starts_with("https://"), "{url}");
                prop_assert!(
                    !url.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"')),
                    "{url}"
                );
            }
        }

        /// The visible text is the message with characters only left out, never added or moved,
        /// and the only ones left out are white space and marker characters.
        #[test]
        fn text_is_preserved(text in any_text()) {
            let visible = visible(&parse(&text));
            prop_assert!(is_subsequence(&visible, &text), "{visible:?}");
            prop_assert_eq!(content(&visible), content(&text));
        }

        #[test]
        fn rendering_cannot_inject_markup(text in markup_soup()) {
            let html = html(&parse(&text));
            prop_assert!(!html.to_lowercase().contains("<script"), "{html}");
            for tag in html.split('<').skip(1) {
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                prop_assert!(
                    ["strong", "em", "code", "pre", "blockquote", "a", "p", "span"]
                        .contains(&name.as_str()),
                    "<{name} in {html}"
                );
            }
            for href in html.split("href=\"").skip(1) {
                prop_assert!(href.starts_with("http://") || href.starts_with("https://"), "{html}");
            }
        }

        #[test]
        fn a_mention_node_is_mentioned(text in markup_soup()) {
            for block in parse(&text) {
                if let Block::Paragraph(inlines) | Block::Quote(inlines) = block {
                    for node in inlines {
                        if let Mention(name) = node {
                            prop_assert!(mentions(&text, name), "{name} in {text:?}");
                        }
                    }
                }
            }
        }
    }
}
