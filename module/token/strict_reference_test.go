package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// decodeStrictReference is the strict decoder as it was before the
// duplicate check became a byte scanner (commit 39415ce): every member name
// is read through encoding/json's tokenizer, unescaped, and compared under
// foldName in a map per object. It is kept, unchanged, only as the
// reference that FuzzStrictMatchesReference holds decodeStrict to.
func decodeStrictReference(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m, err := readObjectReference(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// readObjectReference reads an object's members after its '{'.
func readObjectReference(dec *json.Decoder) (map[string]any, error) {
	m := map[string]any{}
	var folded map[string]struct{} // made when a name needs folding
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return m, nil
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("object member name is not a string")
		}
		key, plain := foldName(name)
		if _, dup := m[name]; dup {
			return nil, errDuplicateMember
		}
		if !plain || folded != nil {
			if folded == nil {
				folded = make(map[string]struct{}, len(m)+1)
				for k := range m {
					f, _ := foldName(k)
					folded[f] = struct{}{}
				}
			}
			if _, dup := folded[key]; dup {
				return nil, errDuplicateMember
			}
			folded[key] = struct{}{}
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := readValueReference(dec, tok)
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
}

// readValueReference reads the value that starts with tok.
func readValueReference(dec *json.Decoder, tok json.Token) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		return readObjectReference(dec)
	case '[':
		a := []any{}
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			if d, ok := tok.(json.Delim); ok && d == ']' {
				return a, nil
			}
			v, err := readValueReference(dec, tok)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	}
	return nil, errors.New("unexpected delimiter")
}
