package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// decodeStrict decodes YAML into out (a pointer to Agent or Reconciler).
//
// encoding/json, under sigs.k8s.io/yaml, stops at the first unknown key or
// wrong type, names neither the list index nor (for unknown keys) the path,
// and matches keys case-insensitively. So before decoding we walk the YAML
// tree against the Go type ourselves: every unknown key, every key spelled
// with the wrong case and every value of the wrong kind is reported with its
// full path, all at once, as a *ValidationError. Only a tree that passes is
// handed to yaml.UnmarshalStrict, which also rejects duplicate keys.
func decodeStrict(data []byte, out any) error {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return fmt.Errorf("parse YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return fmt.Errorf("parse YAML: %w", err)
	}
	var ps problems
	checkShape(&ps, "", tree, reflect.TypeOf(out).Elem())
	if err := ps.err(); err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		return fmt.Errorf("decode YAML: %w", err)
	}
	return nil
}

var durationType = reflect.TypeOf(Duration{})

// checkShape reports where the decoded YAML node v does not fit type t.
// A null fits anything: the field keeps its zero value and gets a default.
func checkShape(ps *problems, path string, v any, t reflect.Type) {
	if v == nil {
		return
	}
	if t == durationType {
		s, ok := v.(string)
		if !ok {
			ps.add(path, nodeValue(v), "not a duration: write it with a unit, such as 10s or 800ms")
			return
		}
		if _, err := time.ParseDuration(s); err != nil {
			ps.add(path, s, "not a duration such as 10s or 800ms")
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(ps, path, v, t.Elem())
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			where := path
			if where == "" {
				where = "(document)"
			}
			ps.add(where, nodeValue(v), "want a mapping with keys %s", strings.Join(jsonKeys(t), ", "))
			return
		}
		// Known keys in the order of the Go fields (which is DESIGN.md's
		// order), then unknown keys alphabetically: a stable order of problems.
		fields := fieldsByKey(t)
		for _, k := range jsonKeys(t) {
			if item, ok := m[k]; ok {
				checkShape(ps, join(path, k), item, fields[k].Type)
			}
		}
		var unknown []string
		for k := range m {
			if _, ok := fields[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			ps.add(join(path, k), nil, "unknown key%s (known keys: %s)", didYouMean(k, t), strings.Join(jsonKeys(t), ", "))
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			ps.add(path, nodeValue(v), "want a list")
			return
		}
		for i, item := range items {
			checkShape(ps, fmt.Sprintf("%s[%d]", path, i), item, t.Elem())
		}
	case reflect.String:
		switch v.(type) {
		case string:
		case bool: // YAML 1.1 reads y, n, yes, no, on, off unquoted as booleans
			ps.add(path, nodeValue(v), "want a string: YAML read the unquoted value as a boolean; quote it")
		case json.Number:
			ps.add(path, nodeValue(v), "want a string: YAML read the unquoted value as a number; quote it")
		default:
			ps.add(path, nodeValue(v), "want a string")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); !ok || err != nil {
			ps.add(path, nodeValue(v), "want a whole number")
		}
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); !ok || err != nil {
			ps.add(path, nodeValue(v), "want a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
		}
	case reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			ps.add(path, nodeValue(v), "want a number")
		}
	default:
		// Not reachable with the config types; fail loudly if one is added.
		ps.add(path, nodeValue(v), "config field of Go kind %s has no YAML check", t.Kind())
	}
}

// nodeValue shows a decoded YAML node in an error: scalars as written,
// collections by kind.
func nodeValue(v any) any {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return rawValue(v)
	case bool:
		return rawValue(strconv.FormatBool(v))
	case []any:
		return rawValue("a list")
	case map[string]any:
		return rawValue("a mapping")
	}
	return rawValue(fmt.Sprint(v))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldsByKey maps each JSON key of struct t to its field.
func fieldsByKey(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if k := jsonKey(f); k != "" {
			m[k] = f
		}
	}
	return m
}

func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := jsonKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func jsonKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// didYouMean suggests the known key that differs only in case or by a
// plural s, the two slips we expect (destRange, DestRanges).
func didYouMean(key string, t reflect.Type) string {
	for _, k := range jsonKeys(t) {
		if strings.EqualFold(k, key) || strings.EqualFold(k, key+"s") || strings.EqualFold(k+"s", key) {
			return fmt.Sprintf(" (did you mean %s?)", k)
		}
	}
	return ""
}
