package patch

import (
	"fmt"

	yamlv2 "go.yaml.in/yaml/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"
)

// MaxBodyBytes is upstream's bound on a request body (--max-request-bytes'
// default, MaxRequestBodyBytes in apiserver's server/config.go), and so on
// the JSON a YAML body may become.
const MaxBodyBytes = 3 << 20

// JSONBody returns a patch body as JSON. kubectl converts a YAML patch to JSON
// before sending it (and upstream answers a YAML body 400, "invalid JSON
// patch"), but Skiff has always converted a body that is not JSON itself, with
// YAMLToJSON's bound. YAML that does not convert is returned as it is, as
// Skiff always has: the patch then fails to decode as JSON, 400.
func JSONBody(body []byte) ([]byte, error) {
	if !isYAML(body) {
		return body, nil
	}
	j, err := YAMLToJSON(body)
	if apierrors.IsRequestEntityTooLargeError(err) {
		return nil, err
	}
	if err != nil {
		return body, nil
	}
	return j, nil
}

// YAMLToJSON converts YAML to JSON as sigs.k8s.io/yaml's YAMLToJSON does, but
// refuses, 413, YAML whose JSON would exceed MaxBodyBytes, the most a client
// could have sent as JSON.
//
// YAML can name a value once and repeat it by alias: go-yaml refuses documents
// whose nodes are mostly aliases ("excessive aliasing", the billion laughs),
// but not a long string repeated many times, so 100 KB of YAML can become
// 100 MB of JSON and 3 MB of it hundreds of gigabytes. The YAML is therefore
// decoded first, where an alias costs one node and a repeated string is
// shared, and its JSON measured before it is written.
func YAMLToJSON(y []byte) ([]byte, error) {
	var v any
	if err := yamlv2.Unmarshal(y, &v); err != nil {
		return nil, err
	}
	if size := jsonSize(v, MaxBodyBytes); size > MaxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the YAML body's aliases expand it to more than %d bytes of JSON, the limit for a request body", MaxBodyBytes))
	}
	return yaml.YAMLToJSON(y)
}

// isYAML reports whether a body is not JSON: it has something other than
// white space before its first '{' or '['.
func isYAML(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return false
		}
		return true
	}
	return false
}

// jsonSize is at most the length of v's JSON, counted until it passes limit.
// Scalars other than strings count one byte, so it never overestimates.
func jsonSize(v any, limit int) int {
	size := 0
	var walk func(v any)
	walk = func(v any) {
		if size > limit {
			return
		}
		switch v := v.(type) {
		case string:
			size += len(v) + 2
		case map[any]any:
			size += 2
			for k, e := range v {
				if s, ok := k.(string); ok {
					size += len(s)
				}
				size += 4
				walk(e)
				if size > limit {
					return
				}
			}
		case []any:
			size += 2
			for _, e := range v {
				size++
				walk(e)
				if size > limit {
					return
				}
			}
		default:
			size++
		}
	}
	walk(v)
	return size
}
