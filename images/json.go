package images

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSONRecord is one record as `crlazy show --json` prints it and as the
// FUSE view (package imagefs) shows it: its key, kind name, id, sub (for
// sub-records) and the CRIU message in protojson form.
type JSONRecord struct {
	Key   string          `json:"key"`
	Kind  string          `json:"kind"`
	ID    uint32          `json:"id"`
	Sub   *uint64         `json:"sub,omitempty"`
	Value json.RawMessage `json:"value"`
}

// RecordJSON decodes payload (a record value without its seal, as
// store.Reader.Walk and SubRecords hand it out) stored under key k and
// returns it as a JSONRecord.
func RecordJSON(k Key, payload []byte) (JSONRecord, error) {
	m := k.Kind.New()
	if m == nil {
		return JSONRecord{}, fmt.Errorf("%s: %w", k, ErrUnknownKind)
	}
	if err := UnmarshalRecord(payload, m); err != nil {
		return JSONRecord{}, fmt.Errorf("%s: %w", k, err)
	}
	return MessageRecordJSON(k, m)
}

// MessageRecordJSON is RecordJSON for a record already decoded into m.
func MessageRecordJSON(k Key, m proto.Message) (JSONRecord, error) {
	v, err := MessageJSON(m)
	if err != nil {
		return JSONRecord{}, fmt.Errorf("%s: %w", k, err)
	}
	rec := JSONRecord{Key: k.String(), Kind: k.Kind.String(), ID: k.ID, Value: v}
	if k.Type == KeySubRecord {
		sub := k.Sub
		rec.Sub = &sub
	}
	return rec, nil
}

// MessageJSON renders m with protojson's default options (the form of
// every "value" in `crlazy show --json`). protojson's spacing is
// deliberately unstable: re-indent or compact the result (encoding/json
// does both) before comparing or printing it.
func MessageJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render %s as json: %w", messageName(m), err)
	}
	return b, nil
}

// CompactJSON re-encodes b on one line (as `crlazy show` prints each
// record), or returns it unchanged if it does not parse.
func CompactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return string(b)
	}
	return string(out)
}
