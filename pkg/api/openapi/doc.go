// Package openapi generates the OpenAPI documents that the Skiff API server serves
// at /openapi/v2 and /openapi/v3, and serves them.
//
// kubectl depends on these documents: explain reads them, client-side apply takes
// patch strategies from them, and create/apply/patch only send
// fieldValidation=Strict (trusting the server to reject unknown fields) when the
// kind's PATCH operation lists that parameter. The documents are generated once, at
// server start, by reflection over the k8s.io/api Go types and their SwaggerDoc()
// descriptions, so they always match the types the server actually decodes.
// Serving is then a byte copy.
//
// The package describes the API; it must not decode, validate or store objects, and
// it must not carry a copied upstream spec.
package openapi
