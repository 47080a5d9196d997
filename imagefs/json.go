package imagefs

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// jsonViews builds the *.json files: records rendered by
// images.RecordJSON, as `crlazy show --json` prints them, indented.
type jsonViews struct{ r *store.Reader }

func encodeJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// header is the store header.
func (j jsonViews) header() func() ([]byte, error) {
	return func() ([]byte, error) {
		v, err := images.MessageJSON(j.r.Header())
		if err != nil {
			return nil, err
		}
		return encodeJSON(v)
	}
}

func (j jsonViews) recordJSON(k images.Kind, id uint32) (images.JSONRecord, error) {
	m := k.New()
	if err := j.r.Record(k, id, m); err != nil {
		return images.JSONRecord{}, err
	}
	return images.MessageRecordJSON(images.Key{Type: images.KeyRecord, Kind: k, ID: id}, m)
}

// record is one record.
func (j jsonViews) record(k images.Kind, id uint32) func() ([]byte, error) {
	return func() ([]byte, error) {
		rec, err := j.recordJSON(k, id)
		if err != nil {
			return nil, err
		}
		return encodeJSON(rec)
	}
}

// all is an array of every record of kind k.
func (j jsonViews) all(k images.Kind) func() ([]byte, error) {
	return func() ([]byte, error) {
		ids, err := j.r.IDs(k)
		if err != nil {
			return nil, err
		}
		recs := []images.JSONRecord{}
		for _, id := range ids {
			rec, err := j.recordJSON(k, id)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
		return encodeJSON(recs)
	}
}

func (j jsonViews) subRecords(k images.Kind, id uint32) ([]images.JSONRecord, error) {
	recs := []images.JSONRecord{}
	err := j.r.SubRecords(k, id, func(sub uint64, raw []byte) error {
		rec, err := images.RecordJSON(images.Key{Type: images.KeySubRecord, Kind: k, ID: id, Sub: sub}, raw)
		recs = append(recs, rec)
		return err
	})
	return recs, err
}

// subs is an array of the sub-records of (k, id).
func (j jsonViews) subs(k images.Kind, id uint32) func() ([]byte, error) {
	return func() ([]byte, error) {
		recs, err := j.subRecords(k, id)
		if err != nil {
			return nil, err
		}
		return encodeJSON(recs)
	}
}

// fdJSON is one descriptor in fds.json: its fdinfo record joined with
// the files record it refers to (absent if the store lacks it).
type fdJSON struct {
	Fd     uint32             `json:"fd"`
	Fdinfo images.JSONRecord  `json:"fdinfo"`
	File   *images.JSONRecord `json:"file,omitempty"`
}

// fds is an array of the descriptors of files id filesID. (Files are
// read after the walk: a store read inside another's callback could
// deadlock with a Close waiting for the Reader's lock.)
func (j jsonViews) fds(filesID uint32) func() ([]byte, error) {
	return func() ([]byte, error) {
		var fds []*fdinfo.FdinfoEntry
		err := j.r.SubRecords(images.Fdinfo, filesID, func(sub uint64, raw []byte) error {
			fd := &fdinfo.FdinfoEntry{}
			fds = append(fds, fd)
			return images.UnmarshalRecord(raw, fd)
		})
		if err != nil {
			return nil, err
		}
		out := []fdJSON{}
		for _, fd := range fds {
			e, err := j.fdEntry(filesID, fd)
			if err != nil {
				return nil, fmt.Errorf("fd %d: %w", fd.GetFd(), err)
			}
			out = append(out, e)
		}
		return encodeJSON(out)
	}
}

func (j jsonViews) fdEntry(filesID uint32, fd *fdinfo.FdinfoEntry) (fdJSON, error) {
	key := images.Key{Type: images.KeySubRecord, Kind: images.Fdinfo, ID: filesID, Sub: uint64(fd.GetFd())}
	rec, err := images.MessageRecordJSON(key, fd)
	if err != nil {
		return fdJSON{}, err
	}
	e := fdJSON{Fd: fd.GetFd(), Fdinfo: rec}
	file, err := j.recordJSON(images.Files, fd.GetId())
	switch {
	case err == nil:
		e.File = &file
	case !errors.Is(err, store.ErrNotFound):
		return fdJSON{}, err
	}
	return e, nil
}
