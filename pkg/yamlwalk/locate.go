package yamlwalk

import (
	"bytes"
	"unicode/utf8"
)

// locator converts between yaml.v3 positions (1-based line, 1-based column
// counted in characters, BOM not counted) and byte offsets. It counts line
// breaks as yaml.v3 does: "\r\n", "\r", "\n", NEL, LS and PS. Positions are
// asked for in increasing order, so it keeps a cursor and only rescans from
// the start when asked to go back; it never holds a table of every line.
type locator struct {
	src       []byte
	simple    bool // only "\n" breaks: use bytes.IndexByte
	line      int  // cursor: line number (1-based) ...
	lineStart int  // ... and the offset where it starts,
	next      int  // where the next line starts: -1 none, -2 not yet known
	col, off  int  // and a known column on that line with its offset
	// (col, off) makes many positions on one long line (a minified flow
	// sequence) cost one pass over the line instead of one each.
}

func newLocator(src []byte) *locator {
	l := &locator{src: src, line: 1}
	l.simple = bytes.IndexByte(src, '\r') < 0 && !bytes.Contains(src, []byte("\u0085")) &&
		!bytes.Contains(src, []byte("\u2028")) && !bytes.Contains(src, []byte("\u2029"))
	l.reset()
	return l
}

func (l *locator) reset() {
	l.line, l.lineStart = 1, 0
	if bytes.HasPrefix(l.src, []byte("\xef\xbb\xbf")) {
		l.lineStart = 3
	}
	l.col, l.off = 1, l.lineStart
	l.next = -2
}

// advance moves the cursor to the next line and reports whether there is one.
func (l *locator) advance() bool {
	if l.next == -2 {
		l.next = l.nextLine(l.lineStart)
	}
	if l.next < 0 {
		return false
	}
	l.line++
	l.lineStart = l.next
	l.col, l.off = 1, l.next
	l.next = -2
	return true
}

// lineEnd returns where the next line starts, or -1 on the last line.
func (l *locator) lineEnd() int {
	if l.next == -2 {
		l.next = l.nextLine(l.lineStart)
	}
	return l.next
}

// nextLine returns the offset where the line after the one starting at
// start begins, or -1 when that line is the last.
func (l *locator) nextLine(start int) int {
	src := l.src
	if l.simple {
		i := bytes.IndexByte(src[start:], '\n')
		if i < 0 {
			return -1
		}
		return start + i + 1
	}
	for p := start; p < len(src); {
		switch c := src[p]; {
		case c == '\n':
			return p + 1
		case c == '\r':
			if p+1 < len(src) && src[p+1] == '\n' {
				return p + 2
			}
			return p + 1
		case c == 0xC2 && p+1 < len(src) && src[p+1] == 0x85:
			return p + 2
		case c == 0xE2 && p+2 < len(src) && src[p+1] == 0x80 && (src[p+2] == 0xA8 || src[p+2] == 0xA9):
			return p + 3
		default:
			p++
		}
	}
	return -1
}

// seekLine moves the cursor to line and reports whether it exists.
func (l *locator) seekLine(line int) bool {
	if line < l.line {
		l.reset()
	}
	for l.line < line {
		if !l.advance() {
			return false
		}
	}
	return true
}

// offset returns the byte offset of a yaml.v3 position.
func (l *locator) offset(line, col int) (int, bool) {
	if line < 1 || col < 1 || !l.seekLine(line) {
		return 0, false
	}
	p, i := l.lineStart, 1
	if col >= l.col {
		p, i = l.off, l.col
	}
	for ; i < col; i++ {
		if p >= len(l.src) {
			return 0, false
		}
		_, size := utf8.DecodeRune(l.src[p:])
		p += size
	}
	l.col, l.off = col, p
	return p, true
}

// position returns the yaml.v3 position of a byte offset.
func (l *locator) position(off int) (line, col int) {
	if off < l.lineStart {
		l.reset()
	}
	for {
		if n := l.lineEnd(); n < 0 || n > off {
			break
		}
		l.advance()
	}
	if off < l.off {
		l.col, l.off = 1, l.lineStart
	}
	l.col += utf8.RuneCount(l.src[l.off:off])
	l.off = off
	return l.line, l.col
}

// firstNonBlank returns the column of the first non-blank character of line,
// or 1. yaml.v3 reports only the line of a syntax error; this is the column
// that a reader's eye goes to on that line.
func (l *locator) firstNonBlank(line int) int {
	if !l.seekLine(line) {
		return 1
	}
	col := 1
	for p := l.lineStart; p < len(l.src) && (l.src[p] == ' ' || l.src[p] == '\t'); p++ {
		col++
	}
	return col
}
