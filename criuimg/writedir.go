package criuimg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeBufBytes is the size of the buffer WriteDir copies pages through.
const writeBufBytes = 1 << 20

// WriteDir writes every image of v into dir (created with mode 0700 if
// missing; existing images are replaced). Pages images are written
// sparse: their zero runs stay holes.
func (v *View) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write criu images: %w", err)
	}
	buf := make([]byte, writeBufBytes)
	for _, f := range v.files {
		if err := writeFile(filepath.Join(dir, f.Name), f, buf); err != nil {
			return fmt.Errorf("write criu images: %w", err)
		}
	}
	return nil
}

func writeFile(path string, f *File, buf []byte) (err error) {
	size, err := f.Size()
	if err != nil {
		return err
	}
	data, err := f.Data()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	for _, x := range data {
		for off := x.Start; off < x.End; {
			n, err := f.ReadAt(buf[:min(uint64(len(buf)), x.End-off)], off)
			if err != nil {
				return err
			}
			if _, err := out.WriteAt(buf[:n], int64(off)); err != nil {
				return err
			}
			off += uint64(n)
		}
	}
	return out.Truncate(int64(size))
}
