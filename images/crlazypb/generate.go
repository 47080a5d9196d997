// Package crlazypb holds the Go types generated from crlazy.proto, the
// schema of crlazy's own records in an image store (see package images).
package crlazypb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=paths=source_relative crlazy.proto"
