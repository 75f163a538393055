package gcefake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// filter is a parsed list `filter` parameter: clauses that must all hold.
//
// Supported forms (a subset of what GCE accepts, enough for gcloud-style and
// client-library callers):
//
//	name eq "vpclink-.*"        RE2, matched against the whole value; ne negates
//	name eq vpclink-.*          unquoted works too
//	name = "vpclink-123"        literal; * is a wildcard; != negates
//	name : "vpclink-*"          same as =
//	(name eq "a.*") (status = RUNNING)        clauses in parentheses, ANDed;
//	(name eq "a.*") AND (status = RUNNING)    explicit AND is accepted too
//
// OR, NOT and nested fields are rejected with 400 invalid.
type filter []clause

type clause struct {
	field string
	re    *regexp.Regexp
	neg   bool
}

// parseFilter parses src; an empty src matches everything.
func parseFilter(src string) (filter, error) {
	sc := &scanner{src: strings.TrimSpace(src)}
	var f filter
	if sc.src == "" {
		return nil, nil
	}
	if !strings.HasPrefix(sc.src, "(") {
		c, err := sc.clause()
		if err != nil {
			return nil, err
		}
		if sc.skipSpace(); sc.pos != len(sc.src) {
			return nil, fmt.Errorf("unexpected %q after clause", sc.src[sc.pos:])
		}
		return filter{c}, nil
	}
	for {
		sc.skipSpace()
		if sc.pos == len(sc.src) {
			return f, nil
		}
		if w := sc.peekWord(); w != "" {
			if strings.EqualFold(w, "AND") && len(f) > 0 {
				sc.pos += len(w)
				continue
			}
			return nil, fmt.Errorf("unsupported %q (only ANDed parenthesized clauses)", w)
		}
		if sc.src[sc.pos] != '(' {
			return nil, fmt.Errorf("expected '(' at %q", sc.src[sc.pos:])
		}
		sc.pos++
		c, err := sc.clause()
		if err != nil {
			return nil, err
		}
		sc.skipSpace()
		if sc.pos >= len(sc.src) || sc.src[sc.pos] != ')' {
			return nil, fmt.Errorf("missing ')'")
		}
		sc.pos++
		f = append(f, c)
	}
}

// match reports whether the resource whose fields get returns passes.
func (f filter) match(get func(field string) string) bool {
	for _, c := range f {
		if c.re.MatchString(get(c.field)) == c.neg {
			return false
		}
	}
	return true
}

var fieldName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*$`)

type scanner struct {
	src string
	pos int
}

func (sc *scanner) skipSpace() {
	for sc.pos < len(sc.src) && sc.src[sc.pos] == ' ' {
		sc.pos++
	}
}

// peekWord returns the bare word at pos if it is letters only (AND, OR, NOT).
func (sc *scanner) peekWord() string {
	end := sc.pos
	for end < len(sc.src) && (sc.src[end] >= 'A' && sc.src[end] <= 'Z' || sc.src[end] >= 'a' && sc.src[end] <= 'z') {
		end++
	}
	return sc.src[sc.pos:end]
}

// token returns the next run of characters that are not space or ')'.
func (sc *scanner) token() string {
	sc.skipSpace()
	start := sc.pos
	for sc.pos < len(sc.src) && sc.src[sc.pos] != ' ' && sc.src[sc.pos] != ')' {
		sc.pos++
	}
	return sc.src[start:sc.pos]
}

// value returns a quoted or bare value.
func (sc *scanner) value() (string, error) {
	sc.skipSpace()
	if sc.pos < len(sc.src) && sc.src[sc.pos] == '"' {
		end := sc.pos + 1
		for end < len(sc.src) && sc.src[end] != '"' {
			if sc.src[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(sc.src) {
			return "", fmt.Errorf("unterminated string")
		}
		// Kept raw: for eq/ne the value is RE2, whose escapes (\b, \., \")
		// gcloud writes and GCE reads as such (gcloud's filter_rewrite).
		v := sc.src[sc.pos+1 : end]
		sc.pos = end + 1
		return v, nil
	}
	v := sc.token()
	if v == "" {
		return "", fmt.Errorf("missing value")
	}
	return v, nil
}

func (sc *scanner) clause() (clause, error) {
	field := sc.token()
	// "name=x" without spaces: split at the operator.
	var op string
	for _, o := range []string{"!=", "=", ":"} {
		if i := strings.Index(field, o); i > 0 {
			sc.pos -= len(field) - i - len(o)
			field, op = field[:i], o
			break
		}
	}
	if op == "" {
		op = sc.token()
	}
	if field == "" || !fieldName.MatchString(field) {
		return clause{}, fmt.Errorf("bad field %q", field)
	}
	v, err := sc.value()
	if err != nil {
		return clause{}, err
	}
	c := clause{field: field}
	var expr string
	switch op {
	case "eq", "ne":
		expr, c.neg = v, op == "ne"
	case "=", "!=", ":":
		v = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
		parts := strings.Split(v, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		expr, c.neg = strings.Join(parts, ".*"), op == "!="
	default:
		return clause{}, fmt.Errorf("unsupported operator %q", op)
	}
	c.re, err = regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return clause{}, fmt.Errorf("bad regular expression %q: %w", v, err)
	}
	return c, nil
}

// listParams reads filter, maxResults and pageToken like GCE: at most 500
// items per page (the default too).
type listParams struct {
	filter     filter
	maxResults int
	after      string // the last name of the previous page
}

func parseListParams(r *http.Request) (listParams, *apiError) {
	q := r.URL.Query()
	p := listParams{maxResults: 500}
	f, err := parseFilter(q.Get("filter"))
	if err != nil {
		return p, errInvalid("Invalid value for field 'filter': '%s'. %v", q.Get("filter"), err)
	}
	p.filter = f
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errInvalid("Invalid value for field 'maxResults': '%s'", v)
		}
		// The REST reference: "Acceptable values are 0 to 500, inclusive."
		if n > 500 {
			return p, errInvalid("Invalid value for field 'maxResults': '%d'. Must be less than or equal to 500", n)
		}
		if n > 0 && n < 500 {
			p.maxResults = n
		}
	}
	if t := q.Get("pageToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return p, errInvalid("Invalid value for field 'pageToken': '%s'", t)
		}
		p.after = string(b)
	}
	return p, nil
}

// page sorts items by name and returns the page after p.after with the token
// for the next one. Tokens carry the last name returned, so a page stays
// correct when items are added or removed between calls.
func page[T any](items []T, name func(T) string, p listParams) ([]T, string) {
	sort.Slice(items, func(i, j int) bool { return name(items[i]) < name(items[j]) })
	start := sort.Search(len(items), func(i int) bool { return name(items[i]) > p.after })
	if p.after == "" {
		start = 0
	}
	end := min(start+p.maxResults, len(items))
	out := items[start:end]
	if end < len(items) && len(out) > 0 {
		return out, pageToken(name(out[len(out)-1]))
	}
	return out, ""
}

// pageToken is the opaque token for the page after the item named last.
func pageToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }
