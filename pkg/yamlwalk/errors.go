package yamlwalk

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors and encoding.

var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (st *walkState) syntaxError(err error) error {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{File: st.file, Line: line, Column: st.loc.firstNonBlank(line), Msg: m[2]}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	// Errors without a line (control characters, bad UTF-8) are found here.
	if off := firstNonPrintable(st.src); off >= 0 {
		line, col := st.loc.position(off)
		return &SyntaxError{File: st.file, Line: line, Column: col, Msg: fmt.Sprintf("%s (byte 0x%02x)", msg, st.src[off])}
	}
	// Otherwise the error is in the document after the last one parsed.
	from := 0
	if st.lastDocLine > 0 {
		if off, ok := st.loc.offset(st.lastDocLine, 1); ok {
			from = off
			if next := st.loc.nextLine(off); next > 0 {
				from = next
			}
		}
	}
	if m := anchorRE.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(st.src[from:], []byte("*"+m[1])); i >= 0 {
			line, col := st.loc.position(from + i)
			return &SyntaxError{File: st.file, Line: line, Column: col, Msg: msg}
		}
	}
	if st.lastDocLine > 0 {
		for off := from; off >= 0 && off < len(st.src); off = st.loc.nextLine(off) {
			if bytes.HasPrefix(st.src[off:], []byte("---")) {
				line, col := st.loc.position(off)
				return &SyntaxError{File: st.file, Line: line, Column: col, Msg: msg + " (in the document starting here)"}
			}
		}
	}
	return &SyntaxError{File: st.file, Line: 1, Column: 1, Msg: msg}
}

var anchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

func checkEncoding(file string, src []byte) error {
	switch {
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}), bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return &SyntaxError{File: file, Line: 1, Column: 1, Msg: "UTF-16 input is not supported; convert it to UTF-8"}
	}
	// yaml.v3 reads a BOM after the first byte as content: a concatenated
	// file's BOM would turn "image:" into "\ufeffimage:" and drop its refs.
	for off := 1; off < len(src); {
		i := bytes.Index(src[off:], []byte("\xef\xbb\xbf"))
		if i < 0 {
			break
		}
		at := off + i
		if src[at-1] == '\n' || src[at-1] == '\r' {
			line, col := newLocator(src).position(at)
			return &SyntaxError{File: file, Line: line, Column: col, Msg: "a byte-order mark inside the stream (concatenated files?); remove it"}
		}
		off = at + 3
	}
	if utf8.Valid(src) {
		return nil
	}
	loc := newLocator(src)
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		if r == utf8.RuneError && size <= 1 {
			line, col := loc.position(off)
			return &SyntaxError{File: file, Line: line, Column: col, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x); is this a binary file?", src[off])}
		}
		off += size
	}
	return nil
}

// firstNonPrintable returns the offset of the first character YAML does not
// allow in a stream, or -1.
func firstNonPrintable(src []byte) int {
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		ok := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
			(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok || (r == utf8.RuneError && size <= 1) {
			return off
		}
		off += size
	}
	return -1
}

// yaml12Directives works around go.yaml.in/yaml/v3 refusing "%YAML 1.2"
// ("found incompatible YAML document"): the copy it parses says "%YAML 1.1",
// which has the same length, so every offset and position stays true. The
// input itself is never changed: it returns src when there is nothing to fix,
// else a fixed copy.
func yaml12Directives(src []byte) []byte {
	const d = "%YAML 1.2"
	out, copied := src, false
	for off := 0; ; {
		i := bytes.Index(out[off:], []byte(d))
		if i < 0 {
			return out
		}
		at := off + i
		if at == 0 || out[at-1] == '\n' || out[at-1] == '\r' || (at == 3 && bytes.HasPrefix(out, []byte("\xef\xbb\xbf"))) {
			if !copied {
				out, copied = append([]byte(nil), src...), true
			}
			out[at+len(d)-1] = '1'
		}
		off = at + len(d)
	}
}
