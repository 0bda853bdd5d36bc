// Package patch applies the patch documents of a PATCH request (JSON patch,
// JSON merge patch and strategic merge patch) to the JSON of an object, with
// the bounds that keep a small request from making the server do unbounded
// work: at most 10000 JSON patch operations and 3 MiB added by their "copy"
// operations (both upstream's), a bound on the bytes a patch may make the
// server parse again and again by reaching deep into large values or testing
// them, a bound on the lists a strategic merge patch merges (its algorithms
// are quadratic), and a YAML body that may not expand, through aliases,
// beyond what a JSON body may hold. A patch whose context ends is abandoned.
//
// Within the bounds, results and errors are those of the libraries upstream
// uses (gopkg.in/evanphx/json-patch.v4 and apimachinery's strategicpatch),
// called as upstream calls them; the library's copy limit is a package
// variable, which this package sets as upstream's API server does.
//
// This package must not read requests, write responses or touch storage: the
// caller decodes, authorizes and stores, and a patch is a function of its
// inputs.
package patch
